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
streams:
  in: {schema: any.json}
  out: {schema: any.json}
functions:
  per_event:
    process: {command: [` + bin + `]}
    config: {tag: blue}
  batch:
    process: {command: [` + bin + `], env: {SLUICEFN_TEST_MODE: batch}}
pipelines:
  per_event: {from: in, function: {name: per_event}, to: [{stream: out}]}
  batch: {from: in, function: {name: batch}, to: [{stream: out}]}
`,
		"tests/per_event.yaml": `
pipeline: per_event
cases:
  - name: outputs, none, an error and a panic of one event each
    input: [{n: 1}, {n: 2, kind: two}, {n: 3, kind: none}, {n: 4, kind: fail}, {n: 5, kind: panic}, {n: x}, {n: 7}]
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
    input: [{n: 1}, {n: 2, kind: fail}]
    expect:
      - json: {n: 1, batch: 2}
      - error: "Bad: event 2 is bad"
  - name: a batch that fails, and a crash, are bisected to their events
    input: [{n: 1}, {n: 2, kind: fail-batch}, {n: 3}, {n: 4, kind: crash}, {n: 5}]
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
