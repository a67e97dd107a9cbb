package hostile

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// client answers or fails within a minute: a request the node holds (as
// main held a redrive) fails the test instead of hanging it.
var client = &http.Client{Timeout: time.Minute}

// call sends a request with client and reads the answer.
func call(t *testing.T, method, url string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// heldAPI serves the simulated MediaWiki API; between hold and release,
// its requests wait, as a slow API's do.
type heldAPI struct {
	h    http.Handler
	mu   sync.Mutex
	gate chan struct{}
}

func (a *heldAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	g := a.gate
	a.mu.Unlock()
	if g != nil {
		select {
		case <-g:
		case <-r.Context().Done():
			return
		}
	}
	a.h.ServeHTTP(w, r)
}

func (a *heldAPI) hold() {
	a.mu.Lock()
	a.gate = make(chan struct{})
	a.mu.Unlock()
}

func (a *heldAPI) release() {
	a.mu.Lock()
	if a.gate != nil {
		close(a.gate)
		a.gate = nil
	}
	a.mu.Unlock()
}

// waitCond polls cond; the deadline only guards against a hang.
func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

type pipelineStatus struct {
	Position  uint64 `json:"position"`
	LagEvents uint64 `json:"lag_events"`
	Paused    bool   `json:"paused"`
	Failed    uint64 `json:"failed"`
	Processed uint64 `json:"processed"`
	Operation *struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"operation"`
}

type operation struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Progress struct {
		Done      uint64  `json:"done"`
		Total     *uint64 `json:"total"`
		Succeeded uint64  `json:"succeeded"`
		Failed    uint64  `json:"failed"`
	} `json:"progress"`
}

func (n *testNode) pipeline(t *testing.T, name string) pipelineStatus {
	t.Helper()
	var s pipelineStatus
	if a := call(t, "GET", n.URL+"/v1/pipelines/"+name); a.Status != 200 || json.Unmarshal(a.Body, &s) != nil {
		t.Fatalf("pipeline %s: %d %s", name, a.Status, a.Body)
	}
	return s
}

func (n *testNode) caughtUp(t *testing.T, name string, position uint64) func() bool {
	return func() bool {
		s := n.pipeline(t, name)
		return s.Position >= position && s.LagEvents == 0
	}
}

// A redrive of many dead letters through a slow function (the simulated
// MediaWiki API holding its requests) answers 202 at once; pause, resume
// and reset answer while it runs, and a rebuild of the pipeline's table
// answers 409 naming it; its progress shows and reaches the end; then
// every dead letter has its output once and is gone. On main the redrive
// held the request (and every control) until it ended.
func TestRedriveThroughASlowFunctionBlocksNothing(t *testing.T) {
	root, _ := filepath.Abs("../..")
	sim := mediawiki.New(mediawiki.Options{})
	api := &heldAPI{h: sim}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close) // after the node stops (cleanups run last first)
	t.Cleanup(sim.Close)
	n := startNode(t, fmt.Sprintf(`  rc:
    schema: %[1]s/testdata/schemas/mediawiki/recentchange/1.0.0.yaml
  images:
    schema: %[1]s/examples/wiki-images/schemas/wiki/page_images.json
    id: /meta/id
    time: /event_time
pipelines:
  wiki:
    from: rc
    start: earliest
    where: 'event.namespace == 0 && event.type in ["edit", "new"]'
    function:
      name: mediawiki.page_images
      config: {user_agent: "sluice-test (ops@example.org)", api_base: "%[2]s", max_attempts: 1, timeout: 10m}
    to:
      - stream: images
      - table: page_images
tables:
  page_images:
    key: 'event.wiki + ":" + event.page_id'
    time: /event_time
`, root, srv.URL))
	t.Cleanup(api.release) // first: a held request would hold the node's shutdown
	// 200 recorded edits (each twice, with its own id), every call failing.
	data, err := os.ReadFile(filepath.Join(root, "testdata/recentchange/enwiki-edits-2023-07-29.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	for copy := range 2 {
		for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			var ev map[string]any
			if err := json.Unmarshal(line, &ev); err != nil {
				t.Fatal(err)
			}
			ev["meta"].(map[string]any)["id"] = fmt.Sprintf("slow-%d-%d", copy, i)
			b, _ := json.Marshal(ev)
			body.Write(append(b, '\n'))
		}
	}
	sim.SetStatus5xxEvery(1)
	if a := do(t, "POST", n.URL+"/v1/streams/rc/events", body.String(), "Content-Type", "application/x-ndjson"); a.Status != 200 {
		t.Fatalf("produce: %d %.300s", a.Status, a.Body)
	}
	waitCond(t, "the dead letters", n.caughtUp(t, "wiki", 200))
	dead := n.count(t, "wiki.errors")
	if s := n.pipeline(t, "wiki"); s.Processed != 0 || s.Failed != dead || dead < 150 {
		t.Fatalf("%d dead letters, status %+v", dead, s)
	}
	sim.SetStatus5xxEvery(0) // the API is back, and slow
	api.hold()

	a := call(t, "POST", n.URL+"/v1/pipelines/wiki/redrive")
	loc := a.Header.Get("Location")
	if a.Status != http.StatusAccepted || loc == "" {
		t.Fatalf("redrive: %d %s (Location %q)", a.Status, a.Body, loc)
	}
	op := operation{}
	_ = json.Unmarshal(a.Body, &op)
	for _, verb := range []string{"pause", "resume", "reset?to=latest"} {
		if a := call(t, "POST", n.URL+"/v1/pipelines/wiki/"+verb); a.Status != 200 {
			t.Fatalf("%s during the redrive: %d %s", verb, a.Status, a.Body)
		}
	}
	if a := call(t, "POST", n.URL+"/v1/tables/page_images/rebuild"); a.Status != http.StatusConflict || !bytes.Contains(a.Body, []byte(op.ID)) {
		t.Fatalf("rebuild during the redrive: %d %s", a.Status, a.Body)
	}
	var running operation
	if a := call(t, "GET", n.URL+loc); a.Status != 200 || json.Unmarshal(a.Body, &running) != nil || running.State != "running" ||
		running.Progress.Total == nil || *running.Progress.Total != dead || running.Progress.Done >= dead {
		t.Fatalf("the running redrive: %d %s", a.Status, a.Body)
	}
	if s := n.pipeline(t, "wiki"); s.Operation == nil || s.Operation.ID != op.ID || s.Operation.State != "running" {
		t.Fatalf("the pipeline does not show its operation: %+v", s.Operation)
	}
	api.release()
	var done operation
	waitCond(t, "the redrive's end", func() bool {
		a := call(t, "GET", n.URL+loc)
		done = operation{}
		return a.Status == 200 && json.Unmarshal(a.Body, &done) == nil && done.State != "running"
	})
	if done.State != "succeeded" || done.Progress.Done != dead || done.Progress.Succeeded != dead || done.Progress.Failed != 0 {
		t.Fatalf("the redrive ended: %+v", done)
	}
	if left := n.count(t, "wiki.errors"); left != 0 {
		t.Fatalf("%d dead letters left", left)
	}
	ids := map[string]int{}
	out := call(t, "GET", n.URL+"/v1/streams/images/events?since=earliest&limit=10000")
	for _, line := range bytes.Split(bytes.TrimSpace(out.Body), []byte("\n")) {
		var o struct{ Meta struct{ ID string } }
		_ = json.Unmarshal(line, &o)
		ids[o.Meta.ID]++
	}
	if uint64(len(ids)) != dead {
		t.Fatalf("%d distinct outputs for %d dead letters", len(ids), dead)
	}
	for id, k := range ids {
		if k != 1 {
			t.Fatalf("output %s written %d times", id, k)
		}
	}
	n.serves(t)
}

// freePort is a loopback address nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Messages published with a NATS client straight into a pipeline's input
// stream (nats.listen, no schema check): bytes that are not JSON, and a
// JSON object without sluice's headers. Each pipeline, with a where clause
// and without, makes them dead letters with the bytes (base64 when not
// JSON) and processes the valid events after them; a redrive fails them
// again, cleanly. On main, the pipelines stopped for good ("dead letter
// refused ... not valid JSON").
func TestRawNATSPublishBecomesADeadLetter(t *testing.T) {
	addr := freePort(t)
	n := startNode(t, `  out:
    schema: s.json
    id: /id
    time: /dt
nats:
  listen: `+addr+`
pipelines:
  filtered:
    from: s
    start: earliest
    where: 'event.id != ""'
    function: {name: jq, config: {program: '{id: (.id + "-f"), dt}'}}
    to: [{stream: out}]
  plain:
    from: s
    start: earliest
    function: {name: jq, config: {program: '{id: (.id + "-p"), dt}'}}
    to: [{stream: out}]
`)
	if a := do(t, "POST", n.URL+"/v1/streams/s/events", event("before")); a.Status != 200 {
		t.Fatalf("produce: %d %s", a.Status, a.Body)
	}
	nc, err := nats.Connect("nats://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte("\xff\xfe not json at all\n")
	object := []byte(`{"id":"forged","dt":"2026-11-27T10:00:00Z"}`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, msg := range [][]byte{raw, object} {
		if _, err := js.Publish(ctx, "sluice.s.s.E", msg); err != nil {
			t.Fatal(err)
		}
	}
	if a := do(t, "POST", n.URL+"/v1/streams/s/events", event("after")); a.Status != 200 {
		t.Fatalf("produce: %d %s", a.Status, a.Body)
	}
	for _, p := range []string{"filtered", "plain"} {
		waitCond(t, p+" past the raw messages", n.caughtUp(t, p, 4))
		if s := n.pipeline(t, p); s.Processed != 2 || s.Failed != 2 {
			t.Fatalf("%s: %+v", p, s)
		}
		a := call(t, "GET", n.URL+"/v1/streams/"+p+".errors/events?since=earliest")
		lines := bytes.Split(bytes.TrimSpace(a.Body), []byte("\n"))
		if a.Status != 200 || len(lines) != 2 {
			t.Fatalf("%s dead letters: %d %s", p, a.Status, a.Body)
		}
		var f [2]struct {
			Error string
			Input struct {
				Seq         uint64
				Event       json.RawMessage
				EventBase64 string `json:"event_base64"`
				Foreign     bool
			}
		}
		for i, l := range lines {
			if err := json.Unmarshal(l, &f[i]); err != nil {
				t.Fatalf("dead letter %s: %v", l, err)
			}
		}
		if in := f[0].Input; !in.Foreign || in.Seq != 2 || string(in.Event) != "null" || in.EventBase64 != base64.StdEncoding.EncodeToString(raw) {
			t.Fatalf("%s: the raw bytes' dead letter: %s", p, lines[0])
		}
		if in := f[1].Input; !in.Foreign || in.Seq != 3 || string(in.Event) != string(object) || !strings.Contains(f[1].Error, "Sluice-Id") {
			t.Fatalf("%s: the forged object's dead letter: %s", p, lines[1])
		}
	}
	a := call(t, "GET", n.URL+"/v1/streams/out/events?since=earliest")
	for _, id := range []string{"before-f", "after-f", "before-p", "after-p"} {
		if !bytes.Contains(a.Body, []byte(`"`+id+`"`)) {
			t.Fatalf("output %s missing: %s", id, a.Body)
		}
	}
	// A redrive fails them again, cleanly, and keeps them.
	a = call(t, "POST", n.URL+"/v1/pipelines/plain/redrive")
	if a.Status != http.StatusAccepted {
		t.Fatalf("redrive: %d %s", a.Status, a.Body)
	}
	var op operation
	waitCond(t, "the redrive's end", func() bool {
		op = operation{}
		b := call(t, "GET", n.URL+a.Header.Get("Location"))
		return json.Unmarshal(b.Body, &op) == nil && op.State != "running"
	})
	if op.State != "succeeded" || op.Progress.Failed != 2 || op.Progress.Succeeded != 0 || n.count(t, "plain.errors") != 2 {
		t.Fatalf("redrive of what was not an event: %+v", op)
	}
	n.serves(t)
}
