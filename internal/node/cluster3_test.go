package node_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/testenv"
	"github.com/sluice-dev/sluice/internal/testenv/natstest"
)

// clusterOf starts node name on a JetStream cluster (url), R3, with
// tables in pg.
func clusterOf(t *testing.T, dir, name, url, pg string) *node.Node {
	t.Helper()
	n, err := clusterNodeWith(t, dir, name, url, pg, func(c *config.Config) { c.NATSReplicas = 3 })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func clusterNodeWith(t *testing.T, dir, name, url, pg string, edit func(*config.Config)) (*node.Node, error) {
	t.Helper()
	cfg, err := config.Load(dir + "/sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr, cfg.Node, cfg.NATS.URL, cfg.TableStore = dir+"/data-"+name, "127.0.0.1:0", name, url, pg
	cfg.Cluster.LeaseTTL = config.Duration(clusterTTL)
	if edit != nil {
		edit(cfg)
	}
	return node.Start(context.Background(), cfg, nil)
}

// produceRetrying produces events [from, to) to in through n, again while
// the answer is 503 (a stream electing a leader).
func produceRetrying(t *testing.T, n *node.Node, from, to int) {
	t.Helper()
	var b bytes.Buffer
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, `{"id":"e%d","t":"2026-12-02T00:00:00Z"}`+"\n", i)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Post("http://"+n.Addr()+"/v1/streams/in/events", "application/x-ndjson", bytes.NewReader(b.Bytes()))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("produce %d-%d: still failing after 90s: %v %v", from, to, resp, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Three nodes on a three-server JetStream cluster, R3: each pipeline runs
// once and the work is spread; a NATS server stops and nothing is lost;
// a node stops and the others take its work.
func TestThreeNodesOnAJetStreamCluster(t *testing.T) {
	pg := testenv.PostgresSchema(t)
	nats := natstest.Cluster(t, 3)
	dir := clusterDir(t, 6)
	urls := nats.URLs()
	a := clusterOf(t, dir, "a", nats.URL(), pg)
	defer shutdown(t, a)
	b := clusterOf(t, dir, "b", nats.URL(), pg)
	bUp := true
	defer func() {
		if bUp {
			shutdown(t, b)
		}
	}()
	c := clusterOf(t, dir, "c", urls[2], pg) // given one server's URL: it learns the others from it
	cUp := true
	defer func() {
		if cUp {
			shutdown(t, c)
		}
	}()

	took := waitUntil(t, "two pipelines on each node", 15*clusterTTL, func() bool {
		r := runs(t, a)
		return len(r["a"]) == 2 && len(r["b"]) == 2 && len(r["c"]) == 2
	})
	t.Logf("three nodes: the work was spread after %v: %v", took, runs(t, a))
	produceRetrying(t, a, 0, 100)
	exactly(t, a, 6, 100)

	// A NATS server stops (the one c was given, too): R3 streams and
	// buckets go on, c goes on through the others.
	if err := nats.Stop(2); err != nil {
		t.Fatal(err)
	}
	produceRetrying(t, c, 100, 150)
	exactly(t, b, 6, 150)
	if err := nats.Start(2); err != nil {
		t.Fatal(err)
	}
	if err := nats.Stop(0); err != nil {
		t.Fatal(err)
	}
	produceRetrying(t, b, 150, 200)
	exactly(t, b, 6, 200)
	if err := nats.Start(0); err != nil {
		t.Fatal(err)
	}

	// b stops: a and c take its pipelines over.
	shutdown(t, b)
	bUp = false
	stopped := time.Now()
	waitUntil(t, "a and c run all six", 15*clusterTTL, func() bool {
		r := runs(t, a)
		return len(r["a"])+len(r["c"]) == 6 && len(r["b"]) == 0
	})
	t.Logf("b stopped: its pipelines ran elsewhere %v later", time.Since(stopped))
	produceRetrying(t, a, 200, 300)
	exactly(t, a, 6, 300)

	// c stops too: a runs everything (a cut off node giving its work up
	// by itself is tested in package lease, behind a cut connection).
	// The bound is for a correct outcome, not a speed (the kill -9 suite
	// measures takeovers): CI's parallel packages once kept a from all six
	// for more than 10 s.
	shutdown(t, c)
	cUp = false
	stopped = time.Now()
	shown := time.Now()
	took = waitUntil(t, "a runs all six", 15*clusterTTL, func() bool {
		r := runs(t, a)
		if len(r["a"]) == 6 {
			return true
		}
		if time.Since(stopped) > 5*clusterTTL && time.Since(shown) > time.Second {
			shown = time.Now()
			// what a says of the pipelines it does not run, to see why
			_, m := call(t, a, "GET", "/v1/pipelines", "")
			t.Logf("c stopped %v ago: runs %v; a's pipelines: %v", time.Since(stopped).Round(time.Millisecond), r, m)
		}
		return false
	})
	t.Logf("c stopped: a ran all six %v later", took)
	produceRetrying(t, a, 300, 400)
	exactly(t, a, 6, 400)
}

// A node whose NATS is out of reach at start serves /healthz, says why it
// is not ready, and starts by itself once NATS answers.
func TestNodeStartsBeforeNATS(t *testing.T) {
	pg := testenv.PostgresSchema(t)
	nats := natstest.Cluster(t, 1)
	if err := nats.Stop(0); err != nil {
		t.Fatal(err)
	}
	dir := clusterDir(t, 1)
	n, err := clusterNodeWith(t, dir, "a", nats.URL(), pg, nil)
	if err != nil {
		t.Fatalf("a node whose NATS is out of reach did not start: %v", err)
	}
	defer shutdown(t, n)
	if st, _ := call(t, n, "GET", "/healthz", ""); st != 200 {
		t.Fatalf("healthz while waiting for NATS: %d", st)
	}
	st, m := call(t, n, "GET", "/readyz", "")
	if st != 503 || m["detail"] == nil {
		t.Fatalf("readyz while waiting for NATS: %d %v", st, m)
	}
	t.Logf("readyz: %v", m["detail"])
	if st, _ := call(t, n, "GET", "/v1/streams", ""); st != 503 {
		t.Fatalf("the API while waiting for NATS: %d", st)
	}
	if err := nats.Start(0); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	select {
	case <-n.Up():
	case <-time.After(30 * time.Second):
		t.Fatal("not started 30s after NATS came")
	}
	t.Logf("started %v after NATS came", time.Since(started))
	waitUntil(t, "ready", 10*time.Second, func() bool { st, _ := call(t, n, "GET", "/readyz", ""); return st == 200 })
	produceRetrying(t, n, 0, 10)
	exactly(t, n, 1, 10)
}

// Nodes started at once with one config all plan to create its
// definitions: each is created once, and every node starts (one used to
// exit with "stream already exists").
func TestNodesStartedAtOnce(t *testing.T) {
	pg := testenv.PostgresSchema(t)
	nats := natstest.Cluster(t, 1)
	dir := clusterDir(t, 3)
	const n = 3
	nodes := make([]*node.Node, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			var err error
			nodes[i], err = clusterNodeWith(t, dir, fmt.Sprintf("n%d", i), nats.URL(), pg, nil)
			errs <- err
		}()
	}
	var failed []error
	for range n {
		if err := <-errs; err != nil {
			failed = append(failed, err)
		}
	}
	for _, nd := range nodes {
		if nd != nil {
			defer shutdown(t, nd)
		}
	}
	if len(failed) > 0 {
		t.Fatalf("%d of %d nodes did not start: %v", len(failed), n, failed)
	}
	for _, path := range []string{"/v1/streams/in/history", "/v1/pipelines/p0/history", "/v1/pipelines/p2/history"} {
		st, m := call(t, nodes[0], "GET", path, "")
		if h, _ := m["versions"].([]any); st != 200 || len(h) != 1 {
			t.Fatalf("GET %s: %d %v: want one change, a creation", path, st, m)
		}
	}
	produce(t, nodes[1], 0, 50)
	exactly(t, nodes[2], 3, 50)
}
