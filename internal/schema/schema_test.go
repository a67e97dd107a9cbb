package schema

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const recentchange = "../../testdata/schemas/mediawiki/recentchange/1.0.0.yaml"

func mustLoad(t testing.TB, path string) *Schema {
	t.Helper()
	b, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRecordedEventsAreValid(t *testing.T) {
	s := mustLoad(t, recentchange)
	f, err := os.Open("../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		v, err := Decode(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if vs := s.Validate(v); vs != nil {
			t.Fatalf("event %d: %v", n, vs)
		}
		n++
	}
	if n != 100 {
		t.Fatalf("read %d events, want 100", n)
	}
}

func TestViolationsNamePointerAndRule(t *testing.T) {
	s := mustLoad(t, recentchange)
	v, err := Decode([]byte(`{"$schema":"/mediawiki/recentchange/1.0.0","meta":{"dt":"2023-07-29T07:51:39Z","stream":"x"},"bot":"yes","length":{"new":"long"}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := s.Validate(v)
	want := []Violation{
		{Pointer: "/bot", Keyword: "type", Message: "got string, want boolean"},
		{Pointer: "/length/new", Keyword: "type", Message: "got string, want null or integer"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("violation %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	v, _ = Decode([]byte(`{"$schema":"x","meta":{"stream":"x","dt":"yesterday"}}`))
	got = s.Validate(v)
	if len(got) != 1 || got[0].Pointer != "/meta/dt" || got[0].Keyword != "format" {
		t.Fatalf("bad date-time: got %v", got)
	}
	v, _ = Decode([]byte(`{"meta":{}}`))
	got = s.Validate(v)
	if len(got) != 2 || got[0].Keyword != "required" {
		t.Fatalf("missing required: got %v", got)
	}
}

// A message does not repeat its keyword: callers print "/n: minimum: got 0, want 1".
func TestViolationMessageOmitsKeyword(t *testing.T) {
	b, err := FromDocument("mem://bounds.json", []byte(`{"properties":{"n":{"minimum":1},"s":{"maxLength":2},"a":{"minItems":1}}}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile(b)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := Decode([]byte(`{"n":0,"s":"abc","a":[]}`))
	want := []Violation{
		{Pointer: "/a", Keyword: "minItems", Message: "got 0, want 1"},
		{Pointer: "/n", Keyword: "minimum", Message: "got 0, want 1"},
		{Pointer: "/s", Keyword: "maxLength", Message: "got 3, want 2"},
	}
	got := s.Validate(v)
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("violation %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestLoadFileFollowsLocalRefs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("common/meta.yaml", "type: object\nrequired: [id]\nproperties:\n  id: {type: string}\n")
	write("event.json", `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"meta":{"$ref":"common/meta.yaml"},"n":{"$ref":"#/$defs/n"}},"$defs":{"n":{"type":"integer"}}}`)
	b, err := LoadFile(filepath.Join(dir, "event.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Resources) != 2 {
		t.Fatalf("bundle has %d resources, want 2", len(b.Resources))
	}
	// The bundle compiles without the files: it is all the catalog stores.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	s, err := Compile(b)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := Decode([]byte(`{"meta":{},"n":1.5}`))
	got := s.Validate(v)
	if len(got) != 2 || got[0].Pointer != "/meta" || got[0].Keyword != "required" || got[1].Pointer != "/n" {
		t.Fatalf("got %v", got)
	}

	write("remote.json", `{"properties":{"a":{"$ref":"https://example.org/a.json"}}}`)
	if _, err := LoadFile(filepath.Join(dir, "remote.json")); err == nil || !strings.Contains(err.Error(), "only local files") {
		t.Fatalf("remote ref: err = %v", err)
	}
}

func TestAllDrafts(t *testing.T) {
	for _, draft := range []string{
		"https://json-schema.org/draft/2020-12/schema",
		"https://json-schema.org/draft/2019-09/schema",
		"http://json-schema.org/draft-07/schema#",
		"http://json-schema.org/draft-04/schema#",
	} {
		b, err := FromDocument("urn:test", []byte(`{"$schema":"`+draft+`","type":"object","properties":{"a":{"type":"integer"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		s, err := Compile(b)
		if err != nil {
			t.Fatalf("%s: %v", draft, err)
		}
		v, _ := Decode([]byte(`{"a":"x"}`))
		if got := s.Validate(v); len(got) != 1 || got[0].Pointer != "/a" {
			t.Errorf("%s: got %v", draft, got)
		}
	}
	if _, err := FromDocument("urn:x", []byte(`[1]`)); err == nil {
		t.Error("array accepted as schema")
	}
	b, _ := FromDocument("urn:x", []byte(`{"type":"nope"}`))
	if _, err := Compile(b); err == nil {
		t.Error("invalid schema compiled")
	}
}
