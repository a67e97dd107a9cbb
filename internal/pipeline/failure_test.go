package pipeline

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzFailure: whatever the input bytes and the error, a dead letter is
// valid JSON in UTF-8, at most the limit (above a floor for its envelope),
// and keeps the input whole when it fits: as JSON, or as base64.
func FuzzFailure(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "boom", 1<<20)
	f.Add([]byte("not json \xff"), "bad \xfe", 300)
	f.Add([]byte(`[1, 2]`), "", 2000)
	f.Fuzz(func(t *testing.T, ev []byte, msg string, limit int) {
		limit = 2048 + int(uint(limit)%(2<<20)) // the envelope and cut error texts need about 1 KiB
		spec := &Spec{Name: "p", From: "in", FunctionName: "fn"}
		fl := newFailure(spec, 7, "id", ev, errors.New(msg))
		b := fl.marshal(limit)
		if !json.Valid(b) || !utf8.Valid(b) {
			t.Fatalf("not JSON in UTF-8: %q", b)
		}
		if len(b) > limit {
			t.Fatalf("%d bytes over the limit of %d", len(b), limit)
		}
		var back Failure
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		in := back.Input
		if in.Truncated {
			if in.Bytes != len(ev) {
				t.Fatalf("truncated input of %d bytes says %d", len(ev), in.Bytes)
			}
			return
		}
		if in.EventBase64 != "" {
			got, err := base64.StdEncoding.DecodeString(in.EventBase64)
			if err != nil || string(got) != string(ev) {
				t.Fatalf("base64 input %q, want %q", got, ev)
			}
			return
		}
		var want, got any
		if json.Unmarshal(ev, &want) != nil || json.Unmarshal(in.Event, &got) != nil {
			t.Fatalf("input %q kept as %q", ev, in.Event)
		}
	})
}
