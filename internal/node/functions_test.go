package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/function/invocation"
	"github.com/sluice-dev/sluice/internal/function/process/processtest"
	"github.com/sluice-dev/sluice/internal/node"
)

// startProject writes a project (files relative to its folder) and runs a node on it.
func startProject(t *testing.T, files map[string]string) (*node.Node, string) {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(filepath.Join(dir, "sluice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = filepath.Join(dir, "data"), "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		http.DefaultClient.CloseIdleConnections()
	})
	return n, "http://" + n.Addr()
}

func do(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if strings.HasSuffix(url, "/events") && method == "POST" {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// lines reads a whole stream as NDJSON lines.
func lines(t *testing.T, base, stream string) []string {
	t.Helper()
	_, b := do(t, "GET", base+"/v1/streams/"+stream+"/events?limit=10000", "")
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

type pipelineStatus struct {
	State     string `json:"state"`
	Position  uint64 `json:"position"`
	LagEvents uint64 `json:"lag_events"`
	Processed uint64 `json:"processed"`
	Failed    uint64 `json:"failed"`
	LastError string `json:"last_error"`
}

func status(t *testing.T, base, name string) pipelineStatus {
	t.Helper()
	_, b := do(t, "GET", base+"/v1/pipelines/"+name, "")
	var s pipelineStatus
	json.Unmarshal(b, &s)
	return s
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 60 s", what)
		}
	}
}

// TestProcessFunctionPipeline runs a pipeline through a process function
// (a real aws-lambda-go function, two instances) with an event of every
// kind of failure: each is a dead letter with everything, every other
// event has its output exactly once.
func TestProcessFunctionPipeline(t *testing.T) {
	fn := processtest.GoFunction(t)
	_, base := startProject(t, map[string]string{
		"in.json":  `{"type":"object","required":["n"]}`,
		"out.json": `{"type":"object","required":["n","by"],"properties":{"n":{"type":"integer","maximum":1000}}}`,
		"sluice.yaml": `
streams:
  in: {schema: in.json}
  out: {schema: out.json}
functions:
  gofn:
    process: {command: [` + fn + `], instances: 2, timeout: 1s}
    max_batch: 25
    doc: the test function
pipelines:
  p:
    from: in
    start: earliest
    function: {name: gofn}
    to: [{stream: out}]
`})
	bad := map[int]string{17: "fail", 42: "exit", 99: "hang", 150: "count", 160: "error", 170: "badjson"}
	var body bytes.Buffer
	const total = 200
	for i := range total {
		n := i
		if i == 180 {
			n = 5000 // over the output stream's maximum
		}
		fmt.Fprintf(&body, `{"meta":{"id":"e%d","dt":"2026-11-27T10:00:00Z"},"n":%d,"i":%d,"do":%q}`+"\n", i, n, i, bad[i])
	}
	if code, b := do(t, "POST", base+"/v1/streams/in/events", body.String()); code != 200 {
		t.Fatalf("produce: %d %s", code, b)
	}
	waitFor(t, "the pipeline done", func() bool { s := status(t, base, "p"); return s.Position == total && s.LagEvents == 0 })
	s := status(t, base, "p")
	if s.Failed != 7 || s.Processed != total-7 {
		t.Fatalf("status %+v", s)
	}
	outs := lines(t, base, "out")
	seen := map[int]int{}
	for _, l := range outs {
		var o struct{ N int }
		json.Unmarshal([]byte(l), &o)
		seen[o.N]++
	}
	for i := range total {
		want := 1
		if bad[i] != "" || i == 180 {
			want = 0
		}
		if seen[i] != want {
			t.Fatalf("event %d: %d outputs, want %d", i, seen[i], want)
		}
	}
	if len(outs) != total-7 {
		t.Fatalf("%d outputs", len(outs))
	}
	type letter struct {
		Input struct {
			Event struct{ I int }
		}
		Error     string
		ErrorType string `json:"error_type"`
		Stack     []string
		Stderr    string
		Exit      string
		Attempts  int
		Output    string
	}
	letters := map[int]letter{}
	for _, l := range lines(t, base, "p.errors") {
		var d letter
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatal(err)
		}
		letters[d.Input.Event.I] = d
	}
	if len(letters) != 7 {
		t.Fatalf("%d dead letters: %v", len(letters), letters)
	}
	check := func(i int, typ string, f func(d letter) bool) {
		t.Helper()
		if d := letters[i]; d.ErrorType != typ || !f(d) {
			t.Errorf("dead letter of %d (%s): %+v", i, bad[i], d)
		}
	}
	check(17, "BadEvent", func(d letter) bool {
		return len(d.Stack) == 2 && strings.Contains(d.Stderr, "event 17 is bad") && d.Attempts == 1
	})
	check(42, invocation.TypeExit, func(d letter) bool {
		return d.Exit == "exit status 3" && strings.Contains(d.Stderr, "event 42: exiting with 3") && d.Attempts > 1
	})
	check(99, invocation.TypeTimeout, func(d letter) bool {
		return d.Exit == "signal: killed" && strings.Contains(d.Stderr, "event 99: hanging")
	})
	check(150, invocation.TypeInvalidAnswer, func(d letter) bool { return strings.Contains(d.Error, "0 results for 1 events") })
	check(160, "errorString", func(d letter) bool { return strings.Contains(d.Error, "the batch cannot be done") })
	check(170, invocation.TypeInvalidAnswer, func(d letter) bool { return strings.Contains(d.Error, "not the JSON") })
	check(180, "", func(d letter) bool { return d.Output == "stream:out" && strings.Contains(d.Error, "maximum") })

	// The function, listed and invoked by name.
	code, b := do(t, "GET", base+"/v1/functions", "")
	var list struct {
		Functions []struct {
			Name, Kind, State, Doc string
			Builtin                bool
			MaxBatch               int `json:"max_batch"`
			Settings               map[string]any
			Status                 struct {
				Instances []struct{ State string }
			}
		}
	}
	json.Unmarshal(b, &list)
	var found bool
	for _, f := range list.Functions {
		if f.Name == "gofn" {
			found = f.Kind == "process" && !f.Builtin && f.MaxBatch == 25 && f.Doc == "the test function" &&
				len(f.Status.Instances) == 2 && f.Settings["timeout"] == "1s" && (f.State == "ready" || f.State == "starting")
		}
	}
	if code != 200 || !found {
		t.Fatalf("list: %d %s", code, b)
	}
	if code, b := do(t, "POST", base+"/v1/functions/gofn/invoke", `{"config":{"x":1},"events":[{}]}`); code != 400 || !strings.Contains(string(b), "config is the operator's") {
		t.Fatalf("a config for a named function: %d %s", code, b)
	}
	code, b = do(t, "POST", base+"/v1/functions/gofn/invoke", `{"events":[{"n":1},{"n":2,"do":"fail"}]}`)
	if code != 200 || !strings.Contains(string(b), `"detail":{"type":"BadEvent","stack":["main.go:1","main.go:2"],"stderr":"event 2 is bad\n","attempts":1}`) {
		t.Fatalf("invoke: %d %s", code, b)
	}
}

// TestUnavailableFunctionHoldsThePipeline: while an http function's
// endpoint is unavailable, nothing is dead-lettered; the pipeline fails,
// retries, and goes on once the endpoint is back.
func TestUnavailableFunctionHoldsThePipeline(t *testing.T) {
	var up atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		var req invocation.Request
		json.NewDecoder(r.Body).Decode(&req)
		var results []string
		for _, e := range req.Events {
			results = append(results, `{"outputs":[`+string(e)+`]}`)
		}
		io.WriteString(w, `{"results":[`+strings.Join(results, ",")+`]}`)
	}))
	defer srv.Close()
	_, base := startProject(t, map[string]string{
		"any.json": `{"type":"object"}`,
		"sluice.yaml": `
streams:
  in: {schema: any.json}
  out: {schema: any.json}
functions:
  remote:
    http: {url: "` + srv.URL + `", max_attempts: 1}
pipelines:
  p:
    from: in
    start: earliest
    function: {name: remote}
    to: [{stream: out}]
`})
	do(t, "POST", base+"/v1/streams/in/events", `{"meta":{"id":"a","dt":"2026-11-27T10:00:00Z"}}`+"\n"+`{"meta":{"id":"b","dt":"2026-11-27T10:00:00Z"}}`)
	waitFor(t, "the pipeline failing", func() bool {
		s := status(t, base, "p")
		return s.State == "failing" && strings.Contains(s.LastError, "503 Service Unavailable")
	})
	if code, b := do(t, "POST", base+"/v1/functions/remote/invoke", `{"events":[{}]}`); code != 503 || !strings.Contains(string(b), "down for maintenance") {
		t.Fatalf("invoke while down: %d %s", code, b)
	}
	up.Store(true)
	waitFor(t, "the outputs", func() bool { return len(lines(t, base, "out")) == 2 })
	if s := status(t, base, "p"); s.Failed != 0 || len(lines(t, base, "p.errors")) != 0 {
		t.Fatalf("dead letters while the function was down: %+v", s)
	}
}

// TestFunctionKindsDocumented keeps docs/FUNCTIONS.md true to the kinds'
// specs: every setting of process and http has its row.
func TestFunctionKindsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/FUNCTIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range node.FunctionKinds() {
		section := string(doc)
		if i := strings.Index(section, "### `"+k.Name+"`"); i >= 0 {
			section = section[i:]
		} else {
			t.Fatalf("docs/FUNCTIONS.md has no section ### `%s`", k.Name)
		}
		for _, f := range k.Fields {
			if !strings.Contains(section, "| `"+f.Name+"` |") {
				t.Errorf("docs/FUNCTIONS.md: the %s section has no row for %s", k.Name, f.Name)
			}
		}
	}
}
