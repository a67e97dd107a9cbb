package pipetest

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestListGots: when a case gets more or fewer results than it expects,
// each is listed, an input's error by its text, never as a Go pointer.
func TestListGots(t *testing.T) {
	got := listGots([]got{
		{input: 0, out: json.RawMessage(`{"n":1}`)},
		{input: 1, err: errors.New("output stream:out refused the function's output 0: /meta/id: sluice.id: missing")},
	})
	want := "  0: input[0]: {\"n\":1}\n" +
		"  1: input[1] failed: output stream:out refused the function's output 0: /meta/id: sluice.id: missing\n"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
