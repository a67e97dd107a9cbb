//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/testenv/natstest"
)

// The names the cluster tests give their parts: the input stream, the
// pipeline copying it (identity) into a stream, a table and a folder of
// objects.
const (
	clIn    = "in"
	clOut   = "out"
	clPipe  = "copy"
	clTable = "versions"
	clKeys  = 20 // table keys, k00 to k19
)

// clusterLeaseTTL is cluster.lease_ttl in the cluster tests: a takeover
// is expected about this long after a node dies (10 s by default).
const clusterLeaseTTL = 5 * time.Second

// clusterProject writes the cluster tests' sluice.yaml to dir and returns
// its path: tables in pg, every stream and bucket on replicas servers, the
// files output (if filesDir is not empty) rolling objects into filesDir
// every 1,000 sequences or second, one folder per hour of event time.
// pipelines copy the input stream into out (and more into out1, out2, ...).
func clusterProject(t testing.TB, dir, pg string, replicas int, filesDir string, pipelines int) string {
	t.Helper()
	schema := `{type: object, required: [meta, event_time, k, n], properties: {meta: {type: object, required: [id], properties: {id: {type: string}}}, ` +
		`event_time: {type: string, format: date-time}, k: {type: string}, n: {type: integer}}}`
	var b strings.Builder
	if pg != "" {
		fmt.Fprintf(&b, "table_store: %q\n", pg)
	}
	fmt.Fprintf(&b, "nats_replicas: %d\ncluster: {lease_ttl: %s}\nstreams:\n", replicas, clusterLeaseTTL)
	fmt.Fprintf(&b, "  %s: {schema: %s, id: /meta/id, time: /event_time}\n", clIn, schema)
	for i := range pipelines {
		fmt.Fprintf(&b, "  %s: {schema: %s, id: /meta/id, time: /event_time}\n", clOutName(i), schema)
	}
	b.WriteString("pipelines:\n")
	for i := range pipelines {
		fmt.Fprintf(&b, "  %s:\n    from: %s\n    start: earliest\n    function: {name: identity}\n    to:\n      - stream: %s\n", clPipeName(i), clIn, clOutName(i))
		if i == 0 && pg != "" {
			fmt.Fprintf(&b, "      - table: %s\n", clTable)
		}
		if i == 0 && filesDir != "" {
			fmt.Fprintf(&b, "      - files: {url: 'file://%s?no_tmp_dir=true', format: ndjson, partition: '{{.EventTime.Format \"2006/01/02/15\"}}', "+
				"roll: {max_events: 1000, max_age: 1s}}\n", filesDir)
		}
	}
	if pg != "" {
		fmt.Fprintf(&b, "tables:\n  %s: {key: 'event.k', time: /event_time}\n", clTable)
	}
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// clPipeName and clOutName name the cluster project's i-th pipeline and its
// output stream: copy and out, then copy1 and out1, ...
func clPipeName(i int) string { return suffixed(clPipe, i) }
func clOutName(i int) string  { return suffixed(clOut, i) }

func suffixed(s string, i int) string {
	if i == 0 {
		return s
	}
	return fmt.Sprint(s, i)
}

// sluiceNode is one `sluice serve` of a cluster test: started again on the
// same name, address and data directory after a kill.
type sluiceNode struct {
	name, addr, url string
	args            []string
	log             string
	p               *proc
}

// newSluiceNode starts `sluice serve` as node name on the NATS servers at
// natsURL.
func newSluiceNode(t testing.TB, dir, name, cfgPath, natsURL string) *sluiceNode {
	t.Helper()
	n := &sluiceNode{name: name, addr: freeAddr(t), log: filepath.Join(dir, name+".log"),
		args: []string{"serve", "--config", cfgPath, "--data", filepath.Join(dir, "data-"+name),
			"--nats", natsURL, "--node", name, "--progress", "0"}}
	n.url = "http://" + n.addr
	n.start(t)
	return n
}

func (n *sluiceNode) start(t testing.TB) { t.Helper(); n.p = startProcAt(t, n.log, n.addr, n.args...) }

// tailLog is the end of the node's log, its runs one after the other.
func (n *sluiceNode) tailLog(lines int) string {
	b, _ := os.ReadFile(n.log)
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// clusterView is what the tests read of GET /v1/cluster.
type clusterView struct {
	Node  string `json:"node"`
	Nodes []struct {
		Name string `json:"name"`
		Runs struct {
			Pipelines []string `json:"pipelines"`
			Files     []string `json:"files"`
		} `json:"runs"`
	} `json:"nodes"`
}

// runner is the node that runs pipeline (or, with files, its files
// output) as base sees it; "" when none does.
func runner(base, pipeline string, files bool) string {
	var v clusterView
	if getJSON(base, "/v1/cluster", &v) != nil {
		return ""
	}
	for _, n := range v.Nodes {
		units := n.Runs.Pipelines
		if files {
			units = n.Runs.Files
		}
		for _, u := range units {
			if u == pipeline || (files && strings.HasPrefix(u, "files_"+pipeline+"_")) {
				return n.Name
			}
		}
	}
	return ""
}

// waitCurrent waits until every stream and bucket of the cluster has a
// leader and all replicas on running servers are current, so that the
// next kill leaves a quorum that has everything.
func waitCurrent(t *testing.T, c *natstest.Procs) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range jsStreams(t, c) {
		if _, err := c.WaitStreamLeader(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
}

// jsStreams names every JetStream stream of the cluster (sluice's streams
// and its buckets' KV_ streams).
func jsStreams(t *testing.T, c *natstest.Procs) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		names, err := func() ([]string, error) {
			nc, err := nats.Connect(c.URL(), nats.Timeout(2*time.Second))
			if err != nil {
				return nil, err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return nil, err
			}
			var names []string
			l := js.StreamNames(ctx)
			for n := range l.Name() {
				names = append(names, n)
			}
			return names, l.Err()
		}()
		if err == nil {
			return names
		}
		if ctx.Err() != nil {
			t.Fatalf("list the JetStream streams: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// clusterState is what a failed cluster test logs: the pipeline as each
// node reports it, the cluster as the first sees it, and the pipeline's
// JetStream consumer.
func clusterState(c *natstest.Procs, nodes []*sluiceNode) string {
	var b strings.Builder
	for _, n := range nodes {
		var pl, cl any
		errP, errC := getJSON(n.url, "/v1/pipelines/"+clPipe, &pl), getJSON(n.url, "/v1/cluster", &cl)
		fmt.Fprintf(&b, "node %s: pipeline %v %v\n  cluster %v %v\n", n.name, pl, errP, cl, errC)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := nats.Connect(c.URL(), nats.Timeout(2*time.Second))
	if err != nil {
		return b.String() + "nats: " + err.Error()
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	for _, s := range []string{clIn, clOut} {
		st, err := js.Stream(ctx, "sluice_"+s)
		if err != nil {
			fmt.Fprintf(&b, "stream %s: %v\n", s, err)
			continue
		}
		info := st.CachedInfo()
		fmt.Fprintf(&b, "stream %s: %+v cluster %+v\n", s, info.State, info.Cluster)
		for ci := range st.ListConsumers(ctx).Info() {
			fmt.Fprintf(&b, "  consumer %s: delivered %+v ack floor %+v pending %d ack pending %d waiting %d cluster %+v\n",
				ci.Name, ci.Delivered, ci.AckFloor, ci.NumPending, ci.NumAckPending, ci.NumWaiting, ci.Cluster)
		}
	}
	return b.String()
}

// clusterDir is the directory of the nodes' logs and data: the test's
// own, or under SLUICE_CLUSTER_DIR if set, kept after the test (keep).
func clusterDir(t *testing.T) (dir string, keep bool) {
	t.Helper()
	base := os.Getenv("SLUICE_CLUSTER_DIR")
	if base == "" {
		return t.TempDir(), false
	}
	dir = filepath.Join(base, t.Name()+"-"+time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("logs and data in %s", dir)
	return dir, true
}

// explainFailure logs the cluster's state and the end of each node's log.
// With the logs kept, each node still running is sent SIGQUIT first, so
// that its log ends with the stacks of its goroutines.
func explainFailure(t *testing.T, c *natstest.Procs, nodes []*sluiceNode, keep bool) {
	t.Logf("at the failure:\n%s", clusterState(c, nodes))
	for _, n := range nodes {
		if keep && n.p.cmd.ProcessState == nil {
			_ = n.p.cmd.Process.Signal(syscall.SIGQUIT)
			_ = n.p.cmd.Wait()
			n.p.logs.Close()
			t.Logf("node %s: its goroutines at the end of %s", n.name, n.log)
			continue
		}
		t.Logf("node %s's log, its end:\n%s", n.name, n.tailLog(80))
	}
}
