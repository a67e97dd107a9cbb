package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/testenv"
)

const clusterTTL = 2 * time.Second

// clusterDir writes a project of one input stream and n pipelines, each
// copying it into a stream of its own (out0, out1, ...).
func clusterDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	schema := `{type: object, required: [id, t], properties: {id: {type: string}, t: {type: string}}}`
	var b strings.Builder
	b.WriteString("streams:\n  in: {schema: " + schema + ", id: /id, time: /t}\n")
	for i := range n {
		fmt.Fprintf(&b, "  out%d: {schema: %s, id: /id, time: /t}\n", i, schema)
	}
	b.WriteString("pipelines:\n")
	for i := range n {
		fmt.Fprintf(&b, "  p%d: {from: in, start: earliest, function: {name: identity}, to: [{stream: out%d}]}\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "sluice.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// clusterNode starts node name on dir's project: the first (natsListen
// set) runs the embedded engine, the others reach it by URL.
func clusterNode(t *testing.T, dir, name, natsListen, natsURL, tables string) (*node.Node, error) {
	t.Helper()
	cfg, err := config.Load(filepath.Join(dir, "sluice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr, cfg.Node = filepath.Join(dir, "data-"+name), "127.0.0.1:0", name
	cfg.NATS.Listen, cfg.NATS.URL, cfg.TableStore = natsListen, natsURL, tables
	cfg.Cluster.LeaseTTL = config.Duration(clusterTTL)
	return node.Start(context.Background(), cfg, nil)
}

func shutdown(t *testing.T, n *node.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// runs is GET /v1/cluster as node name -> the pipelines it runs.
func runs(t *testing.T, n *node.Node) map[string][]string {
	t.Helper()
	st, m := call(t, n, "GET", "/v1/cluster", "")
	if st != 200 {
		t.Fatalf("GET /v1/cluster: %d %v", st, m)
	}
	out := map[string][]string{}
	nodes, _ := m["nodes"].([]any)
	for _, x := range nodes {
		nd := x.(map[string]any)
		var ps []string
		for _, p := range nd["runs"].(map[string]any)["pipelines"].([]any) {
			ps = append(ps, p.(string))
		}
		out[nd["name"].(string)] = ps
	}
	return out
}

func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// count reads stream s through n: how many events, how many distinct ids.
func count(t *testing.T, n *node.Node, s string) (events, distinct int) {
	t.Helper()
	ids := map[string]bool{}
	resp, err := http.Get("http://" + n.Addr() + "/v1/streams/" + s + "/events?since=earliest&limit=10000")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var e struct{ ID string }
		if len(line) == 0 || json.Unmarshal(line, &e) != nil {
			continue
		}
		id := e.ID
		events++
		ids[id] = true
	}
	return events, len(ids)
}

// exactly waits until each out<i> holds want events and checks none is
// there twice.
func exactly(t *testing.T, n *node.Node, streams, want int) {
	t.Helper()
	for i := range streams {
		s := fmt.Sprintf("out%d", i)
		var got, distinct int
		start := time.Now()
		for got, distinct = count(t, n, s); got < want; got, distinct = count(t, n, s) {
			// A pipeline whose consumer lost its leader (a NATS server stopped)
			// retries with a backoff of up to 30 s; under the race detector on
			// two shared cores, elections take several seconds more.
			if time.Since(start) > 90*time.Second {
				_, list := call(t, n, "GET", "/v1/pipelines", "")
				t.Fatalf("%s holds %d events, not %d after 90s; pipelines: %v", s, got, want, list)
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // a duplicate written late would show now
		if got, distinct = count(t, n, s); got != want || distinct != want {
			t.Fatalf("%s holds %d events (%d distinct), want %d once each", s, got, distinct, want)
		}
	}
}

func TestTwoNodesRunEachPipelineOnce(t *testing.T) {
	pg := testenv.PostgresSchema(t)
	dir := clusterDir(t, 4)
	natsAddr := freeAddr(t)
	a, err := clusterNode(t, dir, "a", natsAddr, "", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, a)
	b, err := clusterNode(t, dir, "b", "", "nats://"+natsAddr, pg)
	if err != nil {
		t.Fatal(err)
	}
	bUp := true
	defer func() {
		if bUp {
			shutdown(t, b)
		}
	}()
	took := waitUntil(t, "two pipelines on each node", 10*clusterTTL, func() bool {
		r := runs(t, a)
		return len(r["a"]) == 2 && len(r["b"]) == 2
	})
	t.Logf("b joined: the work was spread after %v: %v", took, runs(t, a))
	produce(t, a, 0, 200)
	exactly(t, b, 4, 200)

	// Every pipeline's status, asked of either node, comes from the node
	// that runs it.
	onB := runs(t, a)["b"][0]
	for _, n := range []*node.Node{a, b} {
		st, m := call(t, n, "GET", "/v1/pipelines/"+onB, "")
		if st != 200 || m["node"] != "b" || m["state"] != "running" {
			t.Fatalf("GET %s: %d node=%v state=%v", onB, st, m["node"], m["state"])
		}
	}
	_, list := call(t, a, "GET", "/v1/pipelines", "")
	for _, x := range list["pipelines"].([]any) {
		p := x.(map[string]any)
		if p["state"] != "running" || (p["node"] != "a" && p["node"] != "b") {
			t.Fatalf("a's list: %s is %v on %v", p["name"], p["state"], p["node"])
		}
	}
	// A control asked of a goes to b, which runs the pipeline.
	if st, m := call(t, a, "POST", "/v1/pipelines/"+onB+"/pause", ""); st != 200 || m["paused"] != true || m["node"] != "b" {
		t.Fatalf("pause %s through a: %d %v", onB, st, m)
	}
	produce(t, a, 200, 250)
	time.Sleep(500 * time.Millisecond)
	if got, _ := count(t, a, "out"+strings.TrimPrefix(onB, "p")); got != 200 {
		t.Fatalf("paused on b, %s went on: %d events", onB, got)
	}
	if st, m := call(t, a, "POST", "/v1/pipelines/"+onB+"/resume", ""); st != 200 || m["paused"] != false {
		t.Fatalf("resume %s through a: %d %v", onB, st, m)
	}
	exactly(t, a, 4, 250)

	// b stops: a takes its pipelines over and goes on where b was.
	shutdown(t, b)
	bUp = false
	stopped := time.Now()
	waitUntil(t, "a runs all four", 5*clusterTTL, func() bool { return len(runs(t, a)["a"]) == 4 })
	t.Logf("b stopped: a ran its pipelines %v later", time.Since(stopped))
	produce(t, a, 250, 300)
	exactly(t, a, 4, 300)
}

func TestSQLiteTablesRefuseASecondNode(t *testing.T) {
	dir := clusterDir(t, 1)
	natsAddr := freeAddr(t)
	a, err := clusterNode(t, dir, "a", natsAddr, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, a)
	_, err = clusterNode(t, dir, "b", "", "nats://"+natsAddr, "")
	if err == nil || !strings.Contains(err.Error(), "node a") || !strings.Contains(err.Error(), "table_store: postgres://") {
		t.Fatalf("a second node with SQLite tables: %v", err)
	}
	t.Logf("refused: %v", err)
	if r := runs(t, a); len(r) != 1 || len(r["a"]) != 1 {
		t.Fatalf("after the refused node: %v", r)
	}
}
