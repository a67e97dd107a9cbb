package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/function/process/processtest"
	"github.com/sluice-dev/sluice/internal/node"
)

// BenchmarkFunctionPipeline is a pipeline stream -> function -> stream
// over 20,000 recorded recentchange events (about 1 KB each, both streams
// checked against the recentchange schema), with the built-in identity
// and with identity as a process function (two instances, invocations
// of 100): Python (the stdlib Runtime API client of testdata/identity.py,
// and, when SLUICE_BENCH_PY_SDK names sdk/python/sluice_function.py, the
// SDK), and Go (aws-lambda-go). Each iteration is a new node: the events
// are stored with the pipeline paused, and the time runs from its resume
// to its last acknowledgement.
//
//	go test -run '^$' -bench BenchmarkFunctionPipeline -benchtime 2x -count 3 ./internal/node/
func BenchmarkFunctionPipeline(b *testing.B) {
	tmpl := loadTemplate(b)
	schema, _ := filepath.Abs("../../testdata/schemas/mediawiki/recentchange/1.0.0.yaml")
	variants := []struct {
		name, function string
		skip           func(b *testing.B) // skips when the function cannot run here
	}{
		{"builtin-identity", "  f:\n    kind: identity\n", nil},
		{"python-stdlib", "  f:\n    process: {command: [python3, %[1]s/identity.py], instances: 2}\n    max_batch: 100\n",
			func(b *testing.B) { processtest.Python(b) }},
		{"python-sdk", "  f:\n    process: {command: [python3, %[2]s, identity_fn:handle], instances: 2}\n    max_batch: 100\n",
			func(b *testing.B) {
				processtest.Python(b)
				if os.Getenv("SLUICE_BENCH_PY_SDK") == "" {
					b.Skip("SLUICE_BENCH_PY_SDK does not name sdk/python/sluice_function.py")
				}
			}},
		{"go-aws-lambda-go", "  f:\n    process: {command: [%[3]s], instances: 2, env: {FIXTURE_MODE: identity}}\n    max_batch: 100\n",
			func(b *testing.B) { processtest.GoFunction(b) }},
	}
	const total = 20000
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			if v.skip != nil {
				v.skip(b)
			}
			dir := b.TempDir()
			os.WriteFile(filepath.Join(dir, "identity_fn.py"), []byte("def handle(event, config):\n    return event\n"), 0o644)
			gofn := ""
			if v.name == "go-aws-lambda-go" {
				gofn = processtest.GoFunction(b)
			}
			functions := v.function
			if strings.Contains(functions, "%[") {
				functions = fmt.Sprintf(functions, processtest.Testdata(), os.Getenv("SLUICE_BENCH_PY_SDK"), gofn)
			}
			yaml := fmt.Sprintf("streams:\n  in: {schema: %[1]s}\n  out: {schema: %[1]s}\nfunctions:\n%[2]spipelines:\n  p:\n    from: in\n    start: earliest\n    function: {name: f}\n    to: [{stream: out}]\n", schema, functions)
			os.WriteFile(filepath.Join(dir, "sluice.yaml"), []byte(yaml), 0o644)
			var elapsed time.Duration
			for i := range b.N {
				elapsed += pipelineRun(b, filepath.Join(dir, "sluice.yaml"), filepath.Join(dir, fmt.Sprint("data", i)), tmpl, total)
			}
			b.ReportMetric(float64(total*b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// pipelineRun stores total events with the pipeline paused, then times it
// through them.
func pipelineRun(b *testing.B, cfgPath, data string, tmpl *eventTemplate, total int) time.Duration {
	b.StopTimer()
	defer b.StartTimer()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Data, cfg.Addr = data, "127.0.0.1:0"
	ctx := context.Background()
	n, err := node.Start(ctx, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Shutdown(ctx)
	if _, err := n.Pipelines.SetPaused(ctx, "p", true); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 2*tmpl.bytesPerBatch())
	for range total / batch {
		buf = tmpl.body(buf)
		resp, err := http.Post("http://"+n.Addr()+"/v1/streams/in/events", "application/x-ndjson", bytes.NewReader(buf))
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("produce: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	// The function ready (its processes started) before the clock starts.
	for range 2 {
		if res, _, err := n.Pipelines.Invoke(ctx, "p", []json.RawMessage{tmpl.events[0]}); err != nil || res[0].Err != nil {
			b.Fatalf("warm-up: %v %+v", err, res)
		}
	}
	start := time.Now()
	if _, err := n.Pipelines.SetPaused(ctx, "p", false); err != nil {
		b.Fatal(err)
	}
	for deadline := start.Add(5 * time.Minute); ; time.Sleep(2 * time.Millisecond) {
		s, _ := n.Pipelines.Get("p")
		if s.Position >= uint64(total) && s.LagEvents == 0 {
			if s.Failed != 0 || s.Outputs != uint64(total) {
				b.Fatalf("status %+v", s)
			}
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			b.Fatalf("not done after 5 min: %+v", s)
		}
	}
}
