package pipetest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/function/process/processtest"
	"github.com/sluice-dev/sluice/internal/node"
)

// TestNamedProcessFunction runs a project whose pipeline calls a process
// function (the aws-lambda-go test function), as `sluice test` does: the
// same processes the node would run, the same failures.
func TestNamedProcessFunction(t *testing.T) {
	fn := processtest.GoFunction(t)
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("in.json", `{"type":"object"}`)
	// The outputs go to a SQL table: one for two of them (do: two) is {n, k}
	// alone, with no id nor time, which a stream would refuse.
	write("sluice.yaml", `
streams:
  in: {schema: in.json}
functions:
  gofn:
    process: {command: [`+fn+`], instances: 2}
    config: {greeting: hello}
    max_batch: 2
pipelines:
  p:
    from: in
    function: {name: gofn}
    to: [{sql: {url: "sqlite:out.db", table: out, columns: {n: /n, k: /k}}}]
`)
	write("tests/p.yaml", `
pipeline: p
cases:
  - name: outputs
    input: [{meta: {id: a, dt: "2026-01-01T00:00:00Z"}, n: 1}, {meta: {id: b, dt: "2026-01-01T00:00:01Z"}, n: 2, do: none},
            {meta: {id: c, dt: "2026-01-01T00:00:02Z"}, n: 3, do: two}]
    expect:
      - json: {n: 1, by: go, function: gofn, config: {greeting: hello}}
        ignore: [/meta]
      - cel: 'output.n == 3 && output.k == 0'
      - cel: 'output.n == 3 && output.k == 1'
  - name: an event's error and a crash
    input: [{meta: {id: a, dt: "2026-01-01T00:00:00Z"}, n: 1, do: fail}, {meta: {id: b, dt: "2026-01-01T00:00:01Z"}, n: 2},
            {meta: {id: c, dt: "2026-01-01T00:00:02Z"}, n: 3, do: exit}]
    expect:
      - error: "BadEvent: event 1 is bad"
      - cel: output.n == 2
      - error: "Runtime.ExitError: the process ended while it held the invocation (exit status 3)"
`)
	write("tests/sim.yaml", `
pipeline: p
mediawiki_sim: true
cases:
  - name: the simulator's host is let in
    input: [{meta: {id: a, dt: "2026-01-01T00:00:00Z"}, n: 1}]
    expect:
      - cel: 'output.config.greeting == "hello" && output.config.allowed_hosts[0].startsWith("127.0.0.1:")'
`)
	cfg, err := config.Load(filepath.Join(dir, "sluice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	reg := node.Functions()
	if err := node.DeclareFunctions(cfg, reg, nil); err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	var out bytes.Buffer
	sum, err := Run(context.Background(), dir, cfg, reg, &out)
	if err != nil || sum.Passed != 3 || sum.Failed != 0 {
		t.Fatalf("%+v %v\n%s", sum, err, out.String())
	}
	if !strings.Contains(out.String(), "PASS p: an event's error and a crash") {
		t.Fatal(out.String())
	}
}
