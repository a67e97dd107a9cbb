package sluicefn_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/cli"
)

// TestThroughSluice runs the test handler as named process functions under
// `sluice test`, as a node runs them: outputs, filtering, errors and panics
// of single events, a batch handler, and a failing batch and a crash
// bisected to their event.
func TestThroughSluice(t *testing.T) {
	needGo(t)
	bin, err := buildHandler()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"any.json": `{"type": "object"}`,
		"sluice.yaml": `
# Inputs carry an id and a time, as the stream in requires of every event; the outputs
# ({"n": 2}, ...) have none: they go to a SQL table, which takes them.
streams:
  in: {schema: any.json}
functions:
  per_event:
    process: {command: [` + bin + `]}
    config: {tag: blue}
  batch:
    process: {command: [` + bin + `], env: {SLUICEFN_TEST_MODE: batch}}
pipelines:
  per_event: {from: in, function: {name: per_event}, to: [{sql: &out {url: "sqlite:out.db", table: out, columns: {n: /n}}}]}
  batch: {from: in, function: {name: batch}, to: [{sql: *out}]}
`,
		"tests/per_event.yaml": `
pipeline: per_event
cases:
  - name: outputs, none, an error and a panic of one event each
    input:
      - {meta: {id: e1, dt: "2026-01-01T00:00:01Z"}, n: 1}
      - {meta: {id: e2, dt: "2026-01-01T00:00:02Z"}, n: 2, kind: two}
      - {meta: {id: e3, dt: "2026-01-01T00:00:03Z"}, n: 3, kind: none}
      - {meta: {id: e4, dt: "2026-01-01T00:00:04Z"}, n: 4, kind: fail}
      - {meta: {id: e5, dt: "2026-01-01T00:00:05Z"}, n: 5, kind: panic}
      - {meta: {id: e6, dt: "2026-01-01T00:00:06Z"}, n: x}
      - {meta: {id: e7, dt: "2026-01-01T00:00:07Z"}, n: 7}
    expect:
      - json: {n: 1, tag: blue, deadline: true}
      - json: {n: 2}
      - json: {n: 3}
      - error: "event 4: file does not exist"
      - error: "panic: assignment to entry in nil map"
      - error: "InvalidEvent: event: /n: want int, got string"
      - json: {n: 7, tag: blue, deadline: true}
`,
		"tests/batch.yaml": `
pipeline: batch
cases:
  - name: a batch handler's results, an event's error among them
    input:
      - {meta: {id: e8, dt: "2026-01-01T00:00:08Z"}, n: 1}
      - {meta: {id: e9, dt: "2026-01-01T00:00:09Z"}, n: 2, kind: fail}
    expect:
      - json: {n: 1, batch: 2}
      - error: "Bad: event 2 is bad"
  - name: a batch that fails, and a crash, are bisected to their events
    input:
      - {meta: {id: e10, dt: "2026-01-01T00:00:10Z"}, n: 1}
      - {meta: {id: e11, dt: "2026-01-01T00:00:11Z"}, n: 2, kind: fail-batch}
      - {meta: {id: e12, dt: "2026-01-01T00:00:12Z"}, n: 3}
      - {meta: {id: e13, dt: "2026-01-01T00:00:13Z"}, n: 4, kind: crash}
      - {meta: {id: e14, dt: "2026-01-01T00:00:14Z"}, n: 5}
    expect:
      - cel: output.n == 1
      - error: the API is down
      - cel: output.n == 3
      - error: exit status 3
      - cel: output.n == 5
`,
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	code := cli.Execute([]string{"test", dir}, &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), "3 passed, 0 failed") {
		t.Fatalf("sluice test: exit %d\n%s%s", code, out.String(), errOut.String())
	}
}
