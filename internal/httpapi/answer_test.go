package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/table"
)

// The answers written by hand (appendVersion, appendLookup) must read as
// what encoding/json writes of the same types.

func TestVersionAsEncodingJSON(t *testing.T) {
	from := time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.FixedZone("CET", 3600))
	to := from.Add(90 * time.Minute)
	for _, v := range []table.Version{
		{Key: "enwiki:1", ValidFrom: from, Value: json.RawMessage(`{"image_list":["File:A.jpg"],"n":1.5}`), Stream: "wiki.page_images", Seq: 7},
		{Key: "enwiki:1", ValidFrom: from, ValidTo: &to, Value: json.RawMessage(`[]`), Stream: "s", Seq: 1 << 60},
		{Key: "k", ValidFrom: from, ValidTo: &to, Deleted: true, Stream: "s", Seq: 3}, // a deletion: value null
		{Key: "a \"quoted\"\tkey\\ with \x01 and ünïcödé", ValidFrom: from, Value: json.RawMessage(`"x"`), Stream: "s"},
	} {
		got := appendVersion(nil, v)
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(viewVersion(v)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("appendVersion(%q):\n got %s\nwant %s", v.Key, got, want.Bytes())
		}
	}
}

func TestLookupAsEncodingJSON(t *testing.T) {
	from := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	to := from.Add(time.Hour)
	vs := []table.Version{
		{Key: "enwiki:1", ValidFrom: from, Value: json.RawMessage(`{"a":[1,2]}`), Stream: "s", Seq: 1},
		{Key: "enwiki:2"}, // missing
		{Key: "enwiki:3", ValidFrom: from, ValidTo: &to, Value: json.RawMessage(`null`), Stream: "s", Seq: 2},
	}
	var got TableLookupResult
	if err := json.Unmarshal(appendLookup(nil, vs), &got); err != nil {
		t.Fatal(err)
	}
	want := TableLookupResult{Results: []TableKeyResult{
		{Key: "enwiki:1", Value: json.RawMessage(`{"a":[1,2]}`), ValidFrom: &from},
		{Key: "enwiki:2", Missing: true},
		{Key: "enwiki:3", Value: json.RawMessage(`null`), ValidFrom: &from, ValidTo: &to},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

// FuzzAppendString: any valid UTF-8 string (every key and stream name is)
// is written as a JSON string that reads back as itself, as encoding/json
// would write it but for its escaping of <, > and &.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "enwiki:1", "a \"b\" \\ c", "\x00\x1f\t\n\r", "ü€😀", "</script>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip("keys are valid UTF-8")
		}
		b := appendString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Fatalf("appendString(%q) = %s: reads back %q, %v", s, b, back, err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if w := bytes.TrimSuffix(want.Bytes(), []byte("\n")); !bytes.Equal(b, w) && !bytes.ContainsAny(w, "\u2028\u2029") {
			t.Fatalf("appendString(%q) = %s, encoding/json %s", s, b, w)
		}
	})
}
