package hostile

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// eventSchema is the schema of the stream "s" every test node declares:
// id at /id, event time at /dt.
const eventSchema = `{"type":"object","required":["id","dt"],"properties":{
"id":{"type":"string"},"dt":{"type":"string"},"n":{"type":"integer"},"bot":{"type":"boolean"},"text":{"type":"string"}}}`

// testNode is a node serving HTTP on a loopback port.
type testNode struct {
	*node.Node
	URL string // http://127.0.0.1:PORT
	Dir string // the config's folder (the data directory is Dir/data)
}

// startNode writes a config declaring the stream "s" (plus extra YAML
// appended at the top level, e.g. pipelines) and starts a node on it; the
// node is shut down when the test ends.
func startNode(t *testing.T, extra string) *testNode {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.json"), []byte(eventSchema), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := "streams:\n  s:\n    schema: s.json\n    id: /id\n    time: /dt\n" + extra
	return startConfig(t, dir, yaml)
}

// startConfig starts a node on a config document written to dir/sluice.yaml.
func startConfig(t *testing.T, dir, yaml string) *testNode {
	t.Helper()
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Data == config.DefaultData {
		cfg.Data = filepath.Join(dir, "data")
	}
	cfg.Addr = "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		http.DefaultClient.CloseIdleConnections()
	})
	return &testNode{Node: n, URL: "http://" + n.Addr(), Dir: dir}
}

// answer is an HTTP answer read whole.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map (a problem document or a result).
func (a answer) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.Body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %.300s", a.Status, err, a.Body)
	}
	return m
}

// do sends a request; header is name, value pairs.
func do(t *testing.T, method, url, body string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// event is a valid event of the stream "s".
func event(id string) string {
	b, _ := json.Marshal(map[string]any{"id": id, "dt": time.Now().UTC().Format(time.RFC3339Nano)})
	return string(b)
}

// count is the number of events stored in stream s of node n.
func (n *testNode) count(t *testing.T, stream string) uint64 {
	t.Helper()
	st, err := n.Engine.State(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	return st.Messages
}

// serves checks that the node still answers a produce and a read.
func (n *testNode) serves(t *testing.T) {
	t.Helper()
	id := "alive-" + time.Now().Format("150405.000000000")
	if a := do(t, "POST", n.URL+"/v1/streams/s/events", event(id)); a.Status != http.StatusOK {
		t.Fatalf("the node no longer takes events: %d %s", a.Status, a.Body)
	}
	a := do(t, "GET", n.URL+"/v1/streams/s/events?since=earliest&limit=10000", "")
	if a.Status != http.StatusOK || !bytes.Contains(a.Body, []byte(id)) {
		t.Fatalf("the node no longer reads: %d %.300s", a.Status, a.Body)
	}
}

// TestNodeServes checks the helpers themselves.
func TestNodeServes(t *testing.T) {
	n := startNode(t, "")
	n.serves(t)
	if got := n.count(t, "s"); got != 1 {
		t.Fatalf("stored %d events, want 1", got)
	}
}
