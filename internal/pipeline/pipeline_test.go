package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

const project = `
streams:
  in:
    schema: %[1]s/in.json
  out:
    schema: %[1]s/out.json
pipelines:
  double:
    from: in
    start: earliest
    where: 'event.kind == "keep"'
    function:
      name: jq
      config:
        program: '{meta: {id: (.meta.id + "-d"), dt: .meta.dt}, n: (.n * 2 + 0)}'
    to:
      - stream: out
`

func writeSchemas(t *testing.T, dir string) {
	t.Helper()
	for name, doc := range map[string]string{
		"in.json":  `{"type":"object","required":["meta"]}`,
		"out.json": `{"type":"object","required":["meta","n"],"properties":{"n":{"type":"integer","maximum":1000}}}`,
	} {
		if err := writeFile(dir+"/"+name, doc); err != nil {
			t.Fatal(err)
		}
	}
}

// startInOut starts a node with the streams in and out (writeSchemas),
// stopped when the test ends.
func startInOut(t *testing.T) *node.Node {
	t.Helper()
	dir := t.TempDir()
	writeSchemas(t, dir)
	n := startDoc(t, fmt.Sprintf("streams:\n  in: {schema: %[1]s/in.json}\n  out: {schema: %[1]s/out.json}\n", dir), t.TempDir())
	t.Cleanup(func() { stop(t, n) })
	return n
}

// start starts a node of project (its schemas in dir) on the data
// directory data.
func start(t *testing.T, dir, data string) *node.Node {
	t.Helper()
	return startDoc(t, fmt.Sprintf(project, dir), data)
}

// startDoc starts a node of the configuration doc on the data directory
// data; the caller stops it.
func startDoc(t *testing.T, doc, data string) *node.Node {
	t.Helper()
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = data, "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func stop(t *testing.T, n *node.Node) {
	t.Helper()
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
}

func produce(t *testing.T, n *node.Node, from, to int, extra string) {
	t.Helper()
	var raws [][]byte
	for i := from; i < to; i++ {
		kind := "keep"
		if i%3 == 0 {
			kind = "skip"
		}
		raws = append(raws, fmt.Appendf(nil, `{"meta":{"id":"e%d","dt":"2026-11-27T10:%02d:%02dZ"},"kind":%q,"n":%d%s}`, i, i/60%60, i%60, kind, i, extra))
	}
	if _, err := n.Streams.Produce(context.Background(), "in", raws); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, n *node.Node, name string) []json.RawMessage {
	t.Helper()
	c, err := n.Streams.Open(context.Background(), name, stream.Range{From: event.Position{Kind: event.Earliest}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []json.RawMessage
	for {
		e, err := c.Next(context.Background())
		if err != nil {
			return out
		}
		out = append(out, e.Data)
	}
}

func waitDone(t *testing.T, n *node.Node, inputs uint64) pipeline.Status {
	t.Helper()
	var s pipeline.Status
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		s, _ = n.Pipelines.Get("double")
		if s.Position >= inputs && s.LagEvents == 0 {
			return s
		}
	}
	t.Fatalf("pipeline did not reach %d: %+v", inputs, s)
	return s
}

func TestPipelineEndToEnd(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	writeSchemas(t, dir)
	n := start(t, dir, data)
	produce(t, n, 0, 90, "")
	s := waitDone(t, n, 90)
	if s.Processed != 60 || s.Filtered != 30 || s.Failed != 0 || s.Outputs != 60 || s.LagSeconds == nil {
		t.Fatalf("status %+v", s)
	}
	out := read(t, n, "out")
	if len(out) != 60 || string(out[0]) != `{"meta":{"dt":"2026-11-27T10:00:01Z","id":"e1-d"},"n":2}` {
		t.Fatalf("outputs: %d, first %s", len(out), out[0])
	}
	// A failing function call and an output the output stream refuses go to
	// the dead letters with their errors; the pipeline goes on.
	if _, err := n.Streams.Produce(context.Background(), "in", [][]byte{
		[]byte(`{"meta":{"id":"bad1","dt":"2026-11-27T11:00:00Z"},"kind":"keep","n":"x"}`),
		[]byte(`{"meta":{"id":"big","dt":"2026-11-27T11:00:01Z"},"kind":"keep","n":600}`),
		[]byte(`{"meta":{"id":"ok","dt":"2026-11-27T11:00:02Z"},"kind":"keep","n":5}`),
	}); err != nil {
		t.Fatal(err)
	}
	s = waitDone(t, n, 93)
	if s.Failed != 2 || s.Processed != 61 {
		t.Fatalf("after bad inputs: %+v", s)
	}
	dead := read(t, n, "double.errors")
	if len(dead) != 2 {
		t.Fatalf("dead letters: %d", len(dead))
	}
	var f1, f2 pipeline.Failure
	json.Unmarshal(dead[0], &f1)
	json.Unmarshal(dead[1], &f2)
	if f1.Input.ID != "bad1" || !strings.Contains(f1.Error, "cannot add") || f1.Function != "jq" || len(f1.Chain) < 2 ||
		f2.Input.ID != "big" || f2.Output != "stream:out" || f2.Invalid[0].Pointer != "/n" || f2.Invalid[0].Keyword != "maximum" {
		t.Fatalf("failures:\n%s\n%s", dead[0], dead[1])
	}

	// Restart: the pipeline resumes; nothing is done twice.
	stop(t, n)
	n = start(t, dir, data)
	defer stop(t, n)
	produce(t, n, 100, 130, "")
	waitDone(t, n, 123)
	if out := read(t, n, "out"); len(out) != 61+20 {
		t.Fatalf("after restart: %d outputs", len(out))
	}
	// Reset to earliest: everything is processed again, and no output is written twice.
	if _, err := n.Pipelines.Reset(context.Background(), "double", event.Position{Kind: event.Earliest}); err != nil {
		t.Fatal(err)
	}
	waitDone(t, n, 123)
	if out := read(t, n, "out"); len(out) != 81 {
		t.Fatalf("after reset: %d outputs, want 81", len(out))
	}
	// Invoke runs where and the function, and writes nothing.
	res, filtered, err := n.Pipelines.Invoke(context.Background(), "double", []json.RawMessage{
		json.RawMessage(`{"meta":{"id":"i","dt":"x"},"kind":"keep","n":21}`), json.RawMessage(`{"kind":"skip"}`)})
	if err != nil || string(res[0].Outputs[0]) != `{"meta":{"dt":"x","id":"i-d"},"n":42}` || !filtered[1] {
		t.Fatalf("invoke: %+v %v %v", res, filtered, err)
	}
	// ... and the output checks: what the output stream would refuse is the
	// event's error, in the words of the dead letter the pipeline wrote.
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "output stream:out refused the function's output 0: /meta/dt: sluice.time") {
		t.Fatalf("invoke of an output without a valid time: %+v", res[0])
	}
	res, _, err = n.Pipelines.Invoke(context.Background(), "double", []json.RawMessage{
		json.RawMessage(`{"meta":{"id":"big","dt":"2026-11-27T11:00:01Z"},"kind":"keep","n":600}`)})
	if err != nil || res[0].Err == nil || res[0].Err.Error() != f2.Error {
		t.Fatalf("invoke of the dead-lettered input: %+v %v, want the error %q", res, err, f2.Error)
	}
	// Redrive after a fix: let the output accept n up to 10000.
	b, _ := schema.FromDocument("urn:out2", []byte(`{"type":"object","required":["meta","n"],"properties":{"n":{"type":"integer","maximum":10000}}}`))
	if _, _, err := n.Streams.SetSchema(context.Background(), "out", b, false); err != nil {
		t.Fatal(err)
	}
	if rd := redrive(t, n.Pipelines, "double"); rd.State != pipeline.OpSucceeded || rd.Progress.Done != 2 || rd.Progress.Succeeded != 1 || rd.Progress.Failed != 1 {
		t.Fatalf("redrive: %+v", rd)
	}
	if dead := read(t, n, "double.errors"); len(dead) != 1 || !strings.Contains(string(dead[0]), `"bad1"`) {
		t.Fatalf("dead letters after redrive: %s", dead)
	}
	if out := read(t, n, "out"); len(out) != 82 || !strings.Contains(string(out[81]), `"big-d"`) {
		t.Fatalf("after redrive: %d outputs", len(out))
	}
	// Pause holds new inputs back; resume processes them.
	if _, err := n.Pipelines.SetPaused(context.Background(), "double", true); err != nil {
		t.Fatal(err)
	}
	produce(t, n, 200, 203, "")
	time.Sleep(300 * time.Millisecond)
	if s, _ := n.Pipelines.Get("double"); s.State != pipeline.Paused || s.Position != 123 {
		t.Fatalf("paused: %+v", s)
	}
	if _, err := n.Pipelines.SetPaused(context.Background(), "double", false); err != nil {
		t.Fatal(err)
	}
	waitDone(t, n, 126)
}
