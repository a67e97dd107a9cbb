//go:build linux

package node_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
)

// The read benchmarks of issue #12, on a real node over loopback HTTP:
//
//	go test -run '^$' -bench BenchmarkReadLatency -benchtime 1x ./internal/node/
//	SLUICE_BENCH_EVENTS=10000000 SLUICE_BENCH_DATA=/var/tmp/reads-10m [SLUICE_BENCH_WINDOW=1000000] \
//	  go test -run '^$' -bench BenchmarkReadLatency -benchtime 1x -timeout 2h ./internal/node/
//	SLUICE_BENCH_SUBSCRIBERS=2000 SLUICE_BENCH_SECONDS=30 \
//	  go test -run '^$' -bench BenchmarkSSESubscribers -benchtime 1x ./internal/node/
//
// SLUICE_BENCH_DATA keeps the filled node between runs (and lets runs of
// other revisions read the very same stream); SLUICE_BENCH_READS sets the
// reads per kind (default 400: the old code made a consumer per read and
// refused more than about 1,000).

const benchSchema = `{"type":"object","required":["id","dt"],"properties":{"id":{"type":"string"},"dt":{"type":"string"},"n":{"type":"integer"}}}`

var benchBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// benchStep is the event time between consecutive events of the filled stream.
const benchStep = 10 * time.Millisecond

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func freeAddr(b testing.TB) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// benchConfig writes a config declaring the stream "bench" into dir.
func benchConfig(b *testing.B, dir, addr, natsAddr string) string {
	b.Helper()
	if err := os.WriteFile(filepath.Join(dir, "bench.json"), []byte(benchSchema), 0o644); err != nil {
		b.Fatal(err)
	}
	yaml := fmt.Sprintf("data: %s\naddr: %s\nnats:\n  listen: %s\nstreams:\n  bench:\n    schema: bench.json\n    id: /id\n    time: /dt\n",
		filepath.Join(dir, "data"), addr, natsAddr)
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// fill produces events from..to-1 of the bench stream through the stream
// service (validated, de-duplicated, stamped as any produce), in order,
// 1,000 at a time, so that event i is at sequence i+1.
func fill(b *testing.B, n *node.Node, from, to int) {
	b.Helper()
	start := time.Now()
	batches := make(chan [][]byte, 4)
	go func() {
		defer close(batches)
		for first := from; first < to; first += 1000 {
			var raws [][]byte
			for i := first; i < min(first+1000, to); i++ {
				raws = append(raws, fmt.Appendf(nil, `{"id":"e%d","dt":%q}`, i, benchBase.Add(time.Duration(i)*benchStep).Format(time.RFC3339Nano)))
			}
			batches <- raws
		}
	}()
	for raws := range batches {
		if res, err := n.Streams.Produce(context.Background(), "bench", raws); err != nil || res.Accepted != len(raws) {
			b.Fatalf("fill: %+v %v", res.Invalid, err)
		}
	}
	b.Logf("filled %d events in %v", to-from, time.Since(start).Round(time.Second))
}

type latencies []time.Duration

func (l latencies) pct(p float64) time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func (l latencies) String() string {
	return fmt.Sprintf("p50 %v p99 %v max %v (%d)", l.pct(0.5).Round(time.Microsecond), l.pct(0.99).Round(time.Microsecond),
		l.pct(1).Round(time.Microsecond), len(l))
}

func timed(n int, f func(i int)) latencies {
	out := make(latencies, n)
	for i := range n {
		t := time.Now()
		f(i)
		out[i] = time.Since(t)
	}
	return out
}

// BenchmarkReadLatency: a read by sequence and a time seek, each of one
// event, over HTTP, beside a raw JetStream direct get (nats.go, over TCP)
// and the engine's own get (in process), taking turns; then 50 pages of
// 1,000 events, and 1,200 reads in a row, which must all answer 200.
// (The old code made a consumer per read: SLUICE_BENCH_READS=400 keeps
// its first part under the server's limit of consumers.)
func BenchmarkReadLatency(b *testing.B) {
	events := envInt("SLUICE_BENCH_EVENTS", 200_000)
	reads := envInt("SLUICE_BENCH_READS", 400)
	dir := os.Getenv("SLUICE_BENCH_DATA")
	if dir == "" {
		dir = b.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	natsAddr := freeAddr(b)
	cfg, err := config.Load(benchConfig(b, dir, "127.0.0.1:0", natsAddr))
	if err != nil {
		b.Fatal(err)
	}
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	ctx := context.Background()
	st, err := n.Engine.State(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	if int(st.Messages) < events {
		fill(b, n, int(st.Messages), events)
	}
	base := "http://" + n.Addr() + "/v1/streams/bench/events"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	get := func(url string) (int, []byte) {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, body
	}
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	raw, err := js.Stream(ctx, "sluice_bench")
	if err != nil {
		b.Fatal(err)
	}
	// Each kind of read gets its own random positions, and the kinds take
	// turns, so that all meet the server's block cache in the same state
	// (a direct get of a block not read for 10 s loads it whole).
	// SLUICE_BENCH_WINDOW keeps them to the last so many events (the
	// recent part a stream is mostly read in), default all of them.
	window := min(envInt("SLUICE_BENCH_WINDOW", events), events)
	low := events - window // positions in [low+1, events], event indexes in [low, events-2]
	rng := rand.New(rand.NewPCG(12, uint64(events)))
	seq := func() uint64 { return uint64(low) + 1 + rng.Uint64N(uint64(window)) }
	at := func() time.Time {
		i := low + rng.IntN(max(window-1, 1))
		return benchBase.Add(time.Duration(i) * benchStep).Add(time.Duration(rng.Int64N(int64(benchStep))))
	}
	b.ResetTimer()
	for range b.N {
		var direct, engine, bySeq, byTime latencies
		timeOne := func(l *latencies, f func()) {
			t := time.Now()
			f()
			*l = append(*l, time.Since(t))
		}
		for i := range reads + 40 { // the first 40 of each warm up, unrecorded
			var d, e, q, w latencies
			s1, s2, s3, t4 := seq(), seq(), seq(), at()
			timeOne(&d, func() {
				if m, err := raw.GetMsg(ctx, s1); err != nil || m.Sequence != s1 {
					b.Fatalf("direct get %d: %v", s1, err)
				}
			})
			timeOne(&e, func() {
				if m, err := n.Engine.Get(ctx, "bench", s2); err != nil || m.Seq != s2 {
					b.Fatalf("engine get %d: %v", s2, err)
				}
			})
			timeOne(&q, func() {
				code, body := get(fmt.Sprintf("%s?since=%d&limit=1", base, s3))
				if want := fmt.Sprintf(`"id":"e%d"`, s3-1); code != http.StatusOK || !bytes.Contains(body, []byte(want)) {
					b.Fatalf("since=%d: %d %.200s", s3, code, body)
				}
			})
			timeOne(&w, func() {
				code, body := get(base + "?since=" + t4.Format(time.RFC3339Nano) + "&limit=1")
				want := fmt.Sprintf(`"id":"e%d"`, (t4.Sub(benchBase)+benchStep-1)/benchStep)
				if code != http.StatusOK || !bytes.Contains(body, []byte(want)) {
					b.Fatalf("since=%s: %d %.200s, want %s", t4.Format(time.RFC3339Nano), code, body, want)
				}
			})
			if i >= 40 {
				direct, engine, bySeq, byTime = append(direct, d...), append(engine, e...), append(bySeq, q...), append(byTime, w...)
			}
		}
		page := timed(50, func(int) {
			if code, body := get(fmt.Sprintf("%s?since=%d&limit=1000", base, min(seq(), uint64(events-1000)))); code != http.StatusOK || len(body) < 1000*40 {
				b.Fatalf("page: %d %d bytes", code, len(body))
			}
		})
		failed := 0
		for range 1200 {
			if code, _ := get(fmt.Sprintf("%s?since=%d&limit=1", base, seq())); code != http.StatusOK {
				failed++
			}
		}
		b.Logf("%d events, reads among the last %d; raw direct get (nats.go over TCP): %v", events, window, direct)
		b.Logf("engine get (in process): %v", engine)
		b.Logf("HTTP since=SEQ&limit=1: %v", bySeq)
		b.Logf("HTTP since=TIME&limit=1: %v", byTime)
		b.Logf("HTTP since=SEQ&limit=1000: %v", page)
		b.Logf("1,200 reads in a row: %d not 200", failed)
		b.ReportMetric(float64(direct.pct(0.99).Microseconds()), "direct-p99-µs")
		b.ReportMetric(float64(bySeq.pct(0.5).Microseconds()), "seq-p50-µs")
		b.ReportMetric(float64(bySeq.pct(0.99).Microseconds()), "seq-p99-µs")
		b.ReportMetric(float64(byTime.pct(0.5).Microseconds()), "time-p50-µs")
		b.ReportMetric(float64(byTime.pct(0.99).Microseconds()), "time-p99-µs")
		b.ReportMetric(float64(failed), "failed-of-1200")
	}
	b.ReportMetric(0, "ns/op")
}
