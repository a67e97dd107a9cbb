package stream

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestSplitBody(t *testing.T) {
	cases := []struct {
		body   string
		ndjson bool
		want   []string
	}{
		{`{"a":1}`, false, []string{`{"a":1}`}},
		{" [ {\"a\":1} , {\"b\":[1,2]}\n,3 ] ", false, []string{`{"a":1}`, `{"b":[1,2]}`, `3`}},
		{"{\"a\":1}\n\n{\"b\":2}\r\n  \nnot json\n", true, []string{`{"a":1}`, `{"b":2}`, `not json`}},
	}
	for _, c := range cases {
		got, err := SplitBody([]byte(c.body), c.ndjson, Limits{})
		if err != nil {
			t.Fatalf("%q: %v", c.body, err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("%q: got %q", c.body, got)
		}
		for i := range got {
			if string(got[i]) != c.want[i] {
				t.Errorf("%q: event %d = %q, want %q", c.body, i, got[i], c.want[i])
			}
		}
	}
	for _, bad := range []string{``, `  `, `[`, `[{"a":1},`, `[{"a":1}] x`, `{"a":`, `[]`, `{"a":1} {"b":2}`} {
		if _, err := SplitBody([]byte(bad), false, Limits{}); !errors.Is(err, ErrBody) {
			t.Errorf("%q: err = %v, want ErrBody", bad, err)
		}
	}
	var tl *TooLargeError
	if _, err := SplitBody([]byte(`[{"a":1},{"a":"0123456789"}]`), false, Limits{MaxEventBytes: 10}); !errors.As(err, &tl) || tl.Index != 1 {
		t.Fatalf("too large: %v", err)
	}
}

func FuzzSplitBody(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[{"a":1},{"b":2}]`, "{\"a\":1}\n{\"b\":2}\n", `[`, `[1,2,`, `"x"`} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		events, err := SplitBody(body, ndjson, Limits{MaxEventBytes: 1 << 20})
		if err != nil {
			var tl *TooLargeError
			if !errors.Is(err, ErrBody) && !errors.As(err, &tl) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		if len(events) == 0 {
			t.Fatal("no events and no error")
		}
		for i, e := range events {
			if len(e) == 0 {
				t.Fatalf("event %d is empty", i)
			}
			// Outside NDJSON, every event is one valid JSON value.
			if !ndjson && !json.Valid(e) {
				t.Fatalf("event %d %q is not valid JSON", i, e)
			}
		}
	})
}

func TestSplitBodyCountsEvents(t *testing.T) {
	lim := Limits{MaxEventsPerRequest: 3}
	for _, c := range []struct {
		body   string
		ndjson bool
		ok     bool
	}{
		{"{}\n{}\n\n{}\n", true, true},
		{"{}\n{}\n{}\n{}", true, false},
		{"[{},{},{}]", false, true},
		{"[{},{},{},{}]", false, false},
		{"[{},{},{},", false, false}, // past the limit before the syntax error
	} {
		_, err := SplitBody([]byte(c.body), c.ndjson, lim)
		var tm *TooManyEventsError
		if c.ok != (err == nil) || (!c.ok && (!errors.As(err, &tm) || tm.Limit != 3)) {
			t.Errorf("%q: %v", c.body, err)
		}
	}
}
