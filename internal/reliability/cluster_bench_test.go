//go:build reliability

package reliability

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/testenv"
	"github.com/sluice-dev/sluice/internal/testenv/natstest"
)

// BenchmarkScaleOut measures, in one run, produce and pipeline throughput
// of `sluice serve` processes on three set-ups, one after the other in
// each iteration:
//
//   - R1: one node on its embedded engine (one server, R1);
//   - R3x1: one node on a JetStream cluster of three nats-server
//     processes, every stream and bucket on all three (nats_replicas: 3);
//   - R3x2: two nodes on that cluster, the pipelines spread over them (one
//     each).
//
// Produce: 50,000 recorded recentchange events (about 1 KB, each with a
// fresh meta.id), NDJSON batches of 100, four concurrent HTTP clients
// (SLUICE_BENCH_CLIENTS; spread over the nodes), the pipelines paused. Pipelines: two, each
// copying the input stream (identity) into a stream of its own, both
// checked against the recentchange schema; resumed together, timed until
// both acknowledged every input. Each R3 rate is also given over R1's of
// the same iteration (the goal: R3 ingest at least 0.5x single-node
// R1). The clients, the nodes and the servers share the machine's cores.
//
//	go test -tags reliability -run '^$' -bench ScaleOut -benchtime 1x -count 3 ./internal/reliability/
func BenchmarkScaleOut(b *testing.B) {
	ev := loadBenchEvents(b)
	var sums [3]scaleFigures
	for range b.N {
		r1 := scaleRun(b, 0, 1, ev)
		r3x1 := scaleRun(b, 3, 1, ev)
		r3x2 := scaleRun(b, 3, 2, ev)
		for i, f := range []scaleFigures{r1, r3x1, r3x2} {
			sums[i].produce += f.produce / float64(b.N)
			sums[i].pipeline += f.pipeline / float64(b.N)
		}
	}
	for i, name := range []string{"R1", "R3x1", "R3x2"} {
		b.ReportMetric(sums[i].produce, name+"-produce-ev/s")
		b.ReportMetric(sums[i].pipeline, name+"-pipeline-ev/s")
		if i > 0 {
			b.ReportMetric(sums[i].produce/sums[0].produce, name+"/R1-produce")
			b.ReportMetric(sums[i].pipeline/sums[0].pipeline, name+"/R1-pipeline")
		}
	}
	b.ReportMetric(0, "ns/op")
}

const (
	benchTotal     = 50000
	benchBatch     = 100
	benchPipelines = 2
)

type scaleFigures struct{ produce, pipeline float64 } // events/s

// scaleRun sets up servers nats-servers (0: the embedded engine) and
// nodes sluice nodes, and measures them.
func scaleRun(b *testing.B, servers, nodes int, ev *benchEvents) scaleFigures {
	b.StopTimer()
	defer b.StartTimer()
	dir := b.TempDir()
	replicas, pg, natsURL := 1, "", ""
	if servers > 0 {
		c := natstest.Processes(b, servers)
		defer func() { // not left running beside the next set-up
			for i := range servers {
				_ = c.Stop(i)
			}
		}()
		replicas, pg, natsURL = servers, testenv.PostgresSchema(b), c.URL()
	}
	cfg := scaleProject(b, dir, replicas, pg)
	var ns []*sluiceNode
	for i := range nodes {
		n := &sluiceNode{name: fmt.Sprint("n", i), addr: freeAddr(b), log: filepath.Join(dir, fmt.Sprint("n", i, ".log")),
			args: []string{"serve", "--config", cfg, "--data", filepath.Join(dir, fmt.Sprint("data", i)), "--progress", "0"}}
		if natsURL != "" {
			n.args = append(n.args, "--nats", natsURL, "--node", n.name)
		}
		n.url = "http://" + n.addr
		n.start(b)
		waitReady(b, n.url)
		ns = append(ns, n)
	}
	waitFor(b, time.Minute, "the pipelines running, one per node", func() bool {
		on := map[string]bool{}
		for i := range benchPipelines {
			on[runner(ns[0].url, clPipeName(i), false)] = true
		}
		return !on[""] && len(on) == min(nodes, benchPipelines)
	})
	for i := range benchPipelines {
		post(b, ns[0].url, "/v1/pipelines/"+clPipeName(i)+"/pause", nil, nil)
	}

	benchClients := envInt(b, "SLUICE_BENCH_CLIENTS", 4)
	var f scaleFigures
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients}}
	defer client.CloseIdleConnections()
	for c := range benchClients {
		url := ns[c%len(ns)].url + "/v1/streams/" + clIn + "/events"
		wg.Go(func() {
			var buf []byte
			for k := next.Add(1) - 1; k < benchTotal/benchBatch; k = next.Add(1) - 1 {
				buf = ev.body(buf[:0])
				resp, err := client.Post(url, "application/x-ndjson", bytes.NewReader(buf))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("produce: %s", resp.Status)
					return
				}
			}
		})
	}
	wg.Wait()
	f.produce = benchTotal / time.Since(start).Seconds()
	if last := lastSeq(ns[0].url, clIn); last != benchTotal {
		b.Fatalf("the input stream holds %d events, not %d", last, benchTotal)
	}

	start = time.Now()
	for i := range benchPipelines {
		post(b, ns[0].url, "/v1/pipelines/"+clPipeName(i)+"/resume", nil, nil)
	}
	waitFor(b, 5*time.Minute, "the pipelines through", func() bool {
		for i := range benchPipelines {
			var pl pipeline.Status
			if getJSON(ns[0].url, "/v1/pipelines/"+clPipeName(i), &pl) != nil || pl.Position < benchTotal || pl.LagEvents > 0 {
				return false
			}
		}
		return true
	})
	f.pipeline = benchPipelines * benchTotal / time.Since(start).Seconds()
	for _, n := range ns {
		n.p.stop(b)
	}
	return f
}

// scaleProject writes the benchmark's sluice.yaml: an input stream and
// benchPipelines identity pipelines into streams of their own, all of the
// recentchange schema.
func scaleProject(b *testing.B, dir string, replicas int, pg string) string {
	schema, err := filepath.Abs("../../testdata/schemas/mediawiki/recentchange/1.0.0.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var y bytes.Buffer
	if pg != "" {
		fmt.Fprintf(&y, "table_store: %q\n", pg)
	}
	fmt.Fprintf(&y, "nats_replicas: %d\ncluster: {lease_ttl: %s}\nstreams:\n  %s: {schema: %s}\n", replicas, clusterLeaseTTL, clIn, schema)
	for i := range benchPipelines {
		fmt.Fprintf(&y, "  %s: {schema: %s}\n", clOutName(i), schema)
	}
	y.WriteString("pipelines:\n")
	for i := range benchPipelines {
		fmt.Fprintf(&y, "  %s: {from: %s, start: earliest, function: {name: identity}, to: [{stream: %s}]}\n", clPipeName(i), clIn, clOutName(i))
	}
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, y.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchEvents are the 100 recorded recentchange events; each batch gives
// them fresh meta.ids, written in place.
type benchEvents struct {
	events [][]byte
	idAt   []int // offset of the 36-byte meta.id value in each
	n      atomic.Uint64
}

func loadBenchEvents(b *testing.B) *benchEvents {
	data, err := os.ReadFile("../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson")
	if err != nil {
		b.Fatal(err)
	}
	ev := &benchEvents{}
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		i := bytes.Index(line, []byte(`"id":"`))
		if i < 0 {
			b.Fatal("an event without meta.id")
		}
		ev.events, ev.idAt = append(ev.events, line), append(ev.idAt, i+len(`"id":"`))
	}
	return ev
}

// body appends one NDJSON batch of fresh events to buf.
func (ev *benchEvents) body(buf []byte) []byte {
	base := ev.n.Add(benchBatch) - benchBatch
	for i := range benchBatch {
		e := ev.events[i%len(ev.events)]
		at := len(buf) + ev.idAt[i%len(ev.events)]
		buf = append(append(buf, e...), '\n')
		copy(buf[at:], fmt.Sprintf("%036d", base+uint64(i)))
	}
	return buf
}
