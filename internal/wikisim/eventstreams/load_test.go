package eventstreams

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestLoadNDJSON(t *testing.T) {
	evs := mustLoad(t, ndjsonFile)
	raw, err := os.ReadFile(ndjsonFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(evs) != 100 || len(lines) != 100 {
		t.Fatalf("%d events, %d lines; want 100", len(evs), len(lines))
	}
	for i, e := range evs {
		if string(e) != lines[i] {
			t.Fatalf("event %d differs from line %d", i, i+1)
		}
	}
}

func TestLoadCapture(t *testing.T) {
	evs := mustLoad(t, captureFile)
	if len(evs) != 3 { // the last one lacks its closing blank line
		t.Fatalf("%d events, want 3", len(evs))
	}
	raw, _ := os.ReadFile(captureFile)
	for i, e := range evs {
		if !bytes.HasPrefix(e, []byte(`{"$schema":"/mediawiki/recentchange/1.0.0"`)) || bytes.ContainsAny(e, "\r\n") {
			t.Fatalf("event %d: %.80s", i, e)
		}
		if !bytes.Contains(raw, append([]byte("data: "), e...)) {
			t.Fatalf("event %d is not the capture's bytes", i)
		}
	}
	both := mustLoad(t, ndjsonFile, captureFile)
	if len(both) != 103 || !bytes.Equal(both[100], evs[0]) {
		t.Fatalf("two files: %d events", len(both))
	}
}

func TestLoadArrayAndCompaction(t *testing.T) {
	evs := mustLoad(t, captureFile)
	var pretty bytes.Buffer // json.Indent keeps the bytes; MarshalIndent would escape <, >
	if err := json.Indent(&pretty, append(append([]byte("["), bytes.Join(evs, []byte(","))...), ']'), "", "  "); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got := mustLoad(t, write("a.json", "\n  "+pretty.String()+"\n"))
	if len(got) != 3 {
		t.Fatalf("array: %d events", len(got))
	}
	for i := range got {
		if !bytes.Equal(got[i], evs[i]) {
			t.Fatalf("array element %d not compacted back to the recorded bytes:\n%s\n%s", i, got[i], evs[i])
		}
	}

	// NDJSON with blank lines and CRLF; SSE with a multi-line data field.
	got = mustLoad(t, write("b.ndjson", "\r\n{\"a\":1}\r\n\r\n  \n{\"b\": [1, 2]}"))
	if len(got) != 2 || string(got[0]) != `{"a":1}` || string(got[1]) != `{"b": [1, 2]}` {
		t.Fatalf("ndjson: %q", got)
	}
	got = mustLoad(t, write("c.sse", ":ok\n\nevent: message\nid: x\ndata: {\"a\":\ndata:  [1, 2]}\n\nevent: error\ndata: {}\n\ndata: {\"b\":2}"))
	if len(got) != 2 || string(got[0]) != `{"a":[1,2]}` || string(got[1]) != `{"b":2}` {
		t.Fatalf("sse: %q", got)
	}
	if got := mustLoad(t, write("empty", " \n")); len(got) != 0 {
		t.Fatalf("empty file: %q", got)
	}

	for name, content := range map[string]string{
		"bad.ndjson":  "{\"a\":1}\n{\"a\":\n",
		"bad.json":    "[{\"a\":1}, 2]",
		"bad2.json":   "[{\"a\":1}] x",
		"bad.sse":     "data: nope\n\n",
		"trunc.json":  "[{\"a\":1}",
		"scalar.ndjs": "{}\n3\n",
	} {
		if _, err := Load(write(name, content)); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestLoopID(t *testing.T) {
	a, b, c := loopID("da75cd5f-4dc4-4954-8a88-b5b6d4fec7e4", 1), loopID("da75cd5f-4dc4-4954-8a88-b5b6d4fec7e4", 2), loopID("x", 1)
	for _, id := range []string{a, b, c} {
		if !uuidShape.MatchString(id) {
			t.Fatalf("%q is not UUID-shaped", id)
		}
	}
	if a == b || a == c || a != loopID("da75cd5f-4dc4-4954-8a88-b5b6d4fec7e4", 1) {
		t.Fatalf("ids not unique or not deterministic: %s %s %s", a, b, c)
	}
}

func TestLoadFS(t *testing.T) {
	fsys := os.DirFS(filepath.Dir(ndjsonFile))
	evs, err := LoadFS(fsys, filepath.Base(ndjsonFile), filepath.Base(captureFile))
	if err != nil {
		t.Fatal(err)
	}
	want := mustLoad(t, ndjsonFile, captureFile)
	if len(evs) != len(want) || !bytes.Equal(evs[102], want[102]) {
		t.Fatalf("%d events, want %d", len(evs), len(want))
	}
	if _, err := LoadFS(fsys, "missing.ndjson"); err == nil || !strings.Contains(err.Error(), "missing.ndjson") {
		t.Fatalf("missing file: %v", err)
	}
}
