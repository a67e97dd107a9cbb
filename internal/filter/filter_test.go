package filter

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMatch(t *testing.T) {
	f, err := Compile(`has(event.meta.domain) && event.meta.domain == "canary"`)
	if err != nil {
		t.Fatal(err)
	}
	for doc, want := range map[string]bool{
		`{"meta":{"domain":"canary"}}`:           true,
		`{"meta":{"domain":"en.wikipedia.org"}}`: false,
		`{"meta":{}}`:                            false,
	} {
		got, err := f.Match(decode(t, doc))
		if err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", doc, got, err, want)
		}
	}
	g, err := Compile(`event.type in ["edit", "new"] && event.namespace == 0`)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := g.Match(decode(t, `{"type":"edit","namespace":0}`)); err != nil || !ok {
		t.Fatalf("edit ns 0: %v %v", ok, err)
	}
	if _, err := g.Match(decode(t, `{"namespace":0}`)); err == nil {
		t.Fatal("missing field: no error")
	}
	for _, bad := range []string{`event.`, `1 + 2`, `"x"`} {
		if _, err := Compile(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
