package pipetest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/stream"
)

// TestSameVerdictAsThePipeline: an input for which the function gives an
// output that lacks a field the output stream requires (its second one)
// is dead-lettered by the running pipeline, none of its outputs written;
// it is that input's error in an invoke, and fails `sluice test`, all
// three in the same words.
func TestSameVerdictAsThePipeline(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"in.json":  `{"type":"object","required":["meta"]}`,
		"out.json": `{"type":"object","required":["meta","n"]}`,
		"sluice.yaml": `
streams:
  in: {schema: in.json}
  out: {schema: out.json}
pipelines:
  p:
    from: in
    start: earliest
    function: {name: jq, config: {program: '{meta, n: 0}, ({meta} + (if .n then {n} else {} end))'}}
    to: [{stream: out}]
`,
		"tests/p.yaml": `
pipeline: p
cases:
  - name: an output without n
    input: [{meta: {id: a, dt: "2026-01-01T00:00:00Z"}}]
    expect:
      - json: {meta: {id: a, dt: "2026-01-01T00:00:00Z"}}
`,
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(filepath.Join(dir, "sluice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum, err := Run(context.Background(), dir, cfg, node.Functions(), &out)
	if err != nil || sum.Failed != 1 {
		t.Fatalf("%+v %v\n%s", sum, err, out.String())
	}

	ctx := context.Background()
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	n, err := node.Start(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		http.DefaultClient.CloseIdleConnections()
	}()
	ev := json.RawMessage(`{"meta":{"id":"a","dt":"2026-01-01T00:00:00Z"}}`)
	if _, err := n.Streams.Produce(ctx, "in", [][]byte{ev}); err != nil {
		t.Fatal(err)
	}
	var f pipeline.Failure
	for deadline := time.Now().Add(20 * time.Second); f.Error == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no dead letter")
		}
		c, err := n.Streams.Open(ctx, "p.errors", stream.Range{From: event.Position{Kind: event.Earliest}})
		if err != nil {
			continue // not created yet
		}
		if e, err := c.Next(ctx); err == nil {
			json.Unmarshal(e.Data, &f)
		}
		c.Close()
	}
	if f.Output != "stream:out" || len(f.Invalid) == 0 || f.Invalid[0].Keyword != "required" ||
		!strings.HasPrefix(f.Error, "output stream:out refused the function's output 1: /: required: ") {
		t.Fatalf("dead letter: %+v", f)
	}
	if c, err := n.Streams.Open(ctx, "out", stream.Range{From: event.Position{Kind: event.Earliest}}); err != nil {
		t.Fatal(err)
	} else {
		if e, err := c.Next(ctx); err == nil {
			t.Fatalf("an output of the dead-lettered input was written: %s", e.Data)
		}
		c.Close()
	}
	res, _, err := n.Pipelines.Invoke(ctx, "p", []json.RawMessage{ev})
	if err != nil || res[0].Err == nil || res[0].Err.Error() != f.Error {
		t.Fatalf("invoke: %+v %v, want the error %q", res, err, f.Error)
	}
	if !strings.Contains(out.String(), "FAIL p: an output without n\n     expect[0] (input[0]): the input failed: "+f.Error+"\n") {
		t.Fatalf("sluice test does not say %q:\n%s", f.Error, out.String())
	}
}
