//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/testenv"
	"github.com/sluice-dev/sluice/internal/testenv/natstest"
)

// TestClusterKill runs two `sluice serve` nodes (a and b) on a JetStream
// cluster of three nats-server processes, every stream and bucket on all
// three (nats_replicas: 3), tables in PostgreSQL, cluster.lease_ttl 5s. A
// pipeline copies the input stream (identity) into a stream, a table (20
// keys, a version per event) and objects in a folder both nodes write;
// a producer sends 10 events every 40 ms over HTTP to either node, each
// batch again to the other node until acknowledged. Each round
// (SLUICE_CLUSTER_ROUNDS, default 10; about 20 s each):
//
//   - kill -9 the node running the pipeline; the takeover time is until
//     the other node's GET /v1/cluster shows it running the pipeline and
//     the output stream grows again; then start the node again;
//   - kill -9 the nats-server leading the input stream; the produce stall
//     is the longest time without an acknowledged batch; then start it
//     again and wait until every replica is current.
//
// At the end, with the producer stopped and the pipeline caught up: every
// acknowledged event is in the input stream once and nothing else is; the
// output stream holds one copy of each input; the table one version per
// output; the objects every output once.
func TestClusterKill(t *testing.T) {
	rounds := envInt(t, "SLUICE_CLUSTER_ROUNDS", 10)
	pg := testenv.PostgresSchema(t)
	servers := natstest.Processes(t, 3)
	dir, keep := clusterDir(t)
	filesDir := filepath.Join(dir, "files")
	cfg := clusterProject(t, dir, pg, 3, filesDir, 1)
	// Both at once, on one config: both plan to create its definitions,
	// and the one that loses a race plans again (the second used to exit:
	// "config: + streams.in: stream already exists").
	nodes := []*sluiceNode{newSluiceNode(t, dir, "a", cfg, servers.URL()), newSluiceNode(t, dir, "b", cfg, servers.URL())}
	defer func() { // before the cleanups kill the nodes
		if t.Failed() {
			explainFailure(t, servers, nodes, keep)
		}
	}()
	for _, n := range nodes {
		waitReady(t, n.url)
	}
	waitFor(t, time.Minute, "the pipeline running", func() bool { return runner(nodes[0].url, clPipe, false) != "" })
	prod := newProducer([]string{nodes[0].url, nodes[1].url}, 10, 40*time.Millisecond)
	prod.start()
	t.Cleanup(prod.finish)
	began := time.Now()
	waitFor(t, time.Minute, "outputs", func() bool { return lastSeq(nodes[0].url, clOut) > 0 })
	time.Sleep(2 * time.Second)

	var takeovers, nodeStalls, natsStalls, pipeBacks []time.Duration
	for r := 1; r <= rounds; r++ {
		to, st := killRunner(t, r, nodes, prod)
		takeovers, nodeStalls = append(takeovers, to), append(nodeStalls, st)
		st, back := killLeader(t, r, servers, nodes, prod)
		natsStalls, pipeBacks = append(natsStalls, st), append(pipeBacks, back)
		t.Logf("round %d done, %v into the run", r, time.Since(began).Round(time.Second))
	}
	prod.finish()
	produced := time.Since(began)

	in := lastSeq(nodes[0].url, clIn)
	waitFor(t, 3*time.Minute, "the pipeline caught up", func() bool {
		var pl pipeline.Status
		return getJSON(nodes[0].url, "/v1/pipelines/"+clPipe, &pl) == nil && pl.Position == in && pl.LagEvents == 0
	})
	out := lastSeq(nodes[0].url, clOut)
	waitFor(t, time.Minute, "every output in an object", func() bool { return lastObjectSeq(t, filesDir) == out })
	var pl pipeline.Status
	mustGet(t, nodes[0].url, "/v1/pipelines/"+clPipe, &pl)
	if pl.Failed != 0 {
		t.Errorf("the pipeline dead-lettered %d inputs: %s", pl.Failed, pl.LastError)
	}
	if len(prod.refused) > 0 || len(prod.gaveUp) > 0 {
		t.Fatalf("produce refused events %v, or a batch was not acknowledged within %v: %v", prod.refused, unacknowledgedAfter, prod.gaveUp)
	}

	inputs := readStream(t, nodes[0].url, clIn)
	checkAcked(t, inputs, prod)
	outputs := readStream(t, nodes[1].url, clOut)
	checkCopies(t, inputs, outputs)
	versions := checkVersions(t, nodes[0].url, outputs)
	objects, leftovers := checkObjects(t, filesDir, outputs)
	for _, n := range nodes {
		n.p.stop(t)
	}
	t.Logf("%d rounds in %v: takeover after kill -9 of the pipeline's node %s; produce stall then %s; "+
		"produce stall after kill -9 of the input stream's leader %s, pipeline back %s",
		rounds, produced.Round(time.Second), spread(takeovers), spread(nodeStalls), spread(natsStalls), spread(pipeBacks))
	failed, causes := prod.failures()
	t.Logf("%d events acknowledged in %d batches (%d attempts failed and were sent again: %s; %d events answered as already stored), "+
		"each in the input stream once; %d outputs, one per input; %d table versions over %d keys, one per output; "+
		"the outputs in %d whole objects once each (%d temporary files left by kills)",
		len(prod.acked), len(prod.ackedAt), failed, causes, prod.dups, len(outputs), versions, clKeys, objects, leftovers)
}

// killRunner kills the node running the pipeline, waits until the other
// runs it and writes outputs, and starts the node again. It returns the
// takeover time and the longest produce stall meanwhile.
func killRunner(t *testing.T, round int, nodes []*sluiceNode, prod *producer) (takeover, stall time.Duration) {
	t.Helper()
	var name string
	waitFor(t, time.Minute, "a node running the pipeline", func() bool { name = runner(nodes[0].url, clPipe, false); return name != "" })
	victim, survivor := nodes[0], nodes[1]
	if survivor.name == name {
		victim, survivor = survivor, victim
	}
	filesOn := runner(survivor.url, clPipe, true)
	killed := time.Now()
	victim.p.kill()
	waitFor(t, time.Minute, "the pipeline taken over by node "+survivor.name, func() bool { return runner(survivor.url, clPipe, false) == survivor.name })
	seen, from := time.Since(killed), lastSeq(survivor.url, clOut)
	waitFor(t, time.Minute, "outputs written again by node "+survivor.name+", which runs the pipeline,", func() bool { return lastSeq(survivor.url, clOut) > from })
	takeover = time.Since(killed)
	victim.start(t)
	waitReady(t, victim.url)
	stall = prod.stall(killed, time.Now())
	t.Logf("round %d: kill -9 of node %s (the pipeline's; files output on %s): node %s runs the pipeline %v later, its outputs grow %v after the kill; "+
		"longest produce stall %v; %s back and ready %v after the kill",
		round, victim.name, filesOn, survivor.name, seen.Round(10*time.Millisecond), takeover.Round(10*time.Millisecond),
		stall.Round(10*time.Millisecond), victim.name, time.Since(killed).Round(10*time.Millisecond))
	return takeover, stall
}

// killLeader kills the nats-server leading the input stream, waits until
// produce is acknowledged again and the pipeline writes outputs, then
// starts the server again and waits until every replica is current. It
// returns the longest produce stall, and when outputs grew again.
func killLeader(t *testing.T, round int, servers *natstest.Procs, nodes []*sluiceNode, prod *producer) (stall, back time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader, err := servers.Leader(ctx, "sluice_"+clIn)
	if err != nil {
		t.Fatal(err)
	}
	before := runner(nodes[0].url, clPipe, false)
	killed := time.Now()
	if err := servers.Kill(leader); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "produce acknowledged again", func() bool { return prod.ackedSince(killed) >= 3 })
	from := uint64(0)
	waitFor(t, time.Minute, "outputs written again", func() bool {
		seq := lastSeqAny(nodes, clOut)
		if from == 0 {
			from = seq
			return false
		}
		return seq > from
	})
	back = time.Since(killed)
	if err := servers.Start(leader); err != nil {
		t.Fatal(err)
	}
	waitCurrent(t, servers)
	stall = prod.stall(killed, time.Now())
	newLeader, _ := servers.Leader(ctx, "sluice_"+clIn)
	after := runner(nodes[0].url, clPipe, false)
	moved := ""
	if after != before {
		moved = fmt.Sprintf(" (it moved from node %s to %s)", before, after)
	}
	t.Logf("round %d: kill -9 of nats-server %s (leading %s; %s leads it now): longest produce stall %v; the pipeline writes again %v after the kill%s; "+
		"%s back and every replica current %v after the kill",
		round, servers.Name(leader), clIn, servers.Name(newLeader), stall.Round(10*time.Millisecond), back.Round(10*time.Millisecond), moved,
		servers.Name(leader), time.Since(killed).Round(10*time.Millisecond))
	return stall, back
}

// lastSeq is a stream's last sequence as base sees it, 0 if it does not answer.
func lastSeq(base, stream string) uint64 {
	var info streamInfo
	_ = getJSON(base, "/v1/streams/"+stream, &info)
	return info.LastSeq
}

// lastSeqAny is the highest of the nodes' answers.
func lastSeqAny(nodes []*sluiceNode, stream string) uint64 {
	var seq uint64
	for _, n := range nodes {
		seq = max(seq, lastSeq(n.url, stream))
	}
	return seq
}

// lastObjectSeq is the highest sequence in the objects' names under dir.
func lastObjectSeq(t *testing.T, dir string) uint64 {
	t.Helper()
	var last uint64
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if m := objectName.FindStringSubmatch(d.Name()); m != nil {
				var n uint64
				fmt.Sscan(strings.TrimLeft(m[2], "0"), &n)
				last = max(last, n)
			}
		}
		return nil
	})
	return last
}

// spread is min / median / max of ds.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
	return fmt.Sprintf("min %s / median %s / max %s", r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]))
}
