//go:build linux

package node_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkSSESubscribers: SLUICE_BENCH_SUBSCRIBERS (default 200)
// subscribers, each on its own HTTP connection, follow one stream while
// 100 events/s are produced for SLUICE_BENCH_SECONDS (default 5). The
// node is a child process (`sluice serve`, built from this tree), so its
// RSS and CPU are its own; the clients and the producer are this process.
// Reports: subscribers that got every event, the delivery latency (from
// just before the produce request to the client reading the event), the
// node's RSS and both sides' CPU.
func BenchmarkSSESubscribers(b *testing.B) {
	subs := envInt("SLUICE_BENCH_SUBSCRIBERS", 200)
	secs := envInt("SLUICE_BENCH_SECONDS", 5)
	const rate = 100
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max // the child inherits it
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	}
	if lim.Cur < uint64(subs)+200 {
		b.Skipf("%d subscribers need more open files than the limit, %d", subs, lim.Cur)
	}
	dir := b.TempDir()
	exe := filepath.Join(dir, "sluice")
	if out, err := exec.Command("go", "build", "-o", exe, "github.com/sluice-dev/sluice/cmd/sluice").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	addr := freeAddr(b)
	cfg := benchConfig(b, dir, addr, freeAddr(b))
	for range b.N {
		node := exec.Command(exe, "serve", "--config", cfg, "--log-level", "warn")
		node.Stderr = os.Stderr
		if err := node.Start(); err != nil {
			b.Fatal(err)
		}
		stop := func() {
			_ = node.Process.Signal(unix.SIGTERM)
			done := make(chan struct{})
			go func() { node.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				node.Process.Kill()
				<-done
			}
		}
		base := "http://" + addr
		waitReady(b, base)
		r := runSubscribers(b, base, addr, node.Process.Pid, subs, secs*rate, rate)
		stop()
		b.Logf("%d subscribers, %d events at %d/s (produced in %.1f s): %d got every event (%d connections refused or cut); latency %v",
			subs, secs*rate, rate, r.produceWall.Seconds(), r.served, r.failed, r.lat)
		b.Logf("produce requests: %v", r.post)
		b.Logf("node: Go heap in use %.0f MiB, stacks %.0f MiB", r.heap/(1<<20), r.stacks/(1<<20))
		b.Logf("node: RSS %d MiB (peak %d MiB), CPU %.2f s of %.1f s (%.0f%% of a core); clients and producer: CPU %.2f s (%.0f%%)",
			r.rss>>20, r.hwm>>20, r.nodeCPU.Seconds(), r.wall.Seconds(), 100*r.nodeCPU.Seconds()/r.wall.Seconds(),
			r.selfCPU.Seconds(), 100*r.selfCPU.Seconds()/r.wall.Seconds())
		b.ReportMetric(float64(r.served), "served")
		if len(r.lat) > 0 {
			b.ReportMetric(float64(r.lat.pct(0.5).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(r.lat.pct(0.99).Microseconds())/1000, "p99-ms")
		}
		b.ReportMetric(float64(r.rss>>20), "rss-MiB")
		b.ReportMetric(100*r.nodeCPU.Seconds()/r.wall.Seconds(), "node-cpu-%")
		b.ReportMetric(100*r.selfCPU.Seconds()/r.wall.Seconds(), "client-cpu-%")
	}
	b.ReportMetric(0, "ns/op")
}

func waitReady(b *testing.B, base string) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("the node is not ready after 60s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type sseResult struct {
	served, failed int
	lat            latencies
	rss, hwm       uint64
	nodeCPU        time.Duration
	selfCPU        time.Duration
	wall           time.Duration
	produceWall    time.Duration // to produce every event
	post           latencies     // each produce request
	heap, stacks   float64       // the node's Go heap and stacks in use, bytes
}

// runSubscribers connects subs subscribers, produces events at rate and
// waits until each subscriber has them all (or 10 s after the last).
func runSubscribers(b *testing.B, base, addr string, pid, subs, events, rate int) sseResult {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var res sseResult
	var failed atomic.Int64
	got := make([]latencies, subs)
	counts := make([]atomic.Int64, subs)
	var connected, wg sync.WaitGroup
	connected.Add(subs)
	sem := make(chan struct{}, 64) // connect a few at a time
	for i := range subs {
		got[i] = make(latencies, 0, events)
		wg.Go(func() {
			sem <- struct{}{}
			ok := false
			defer func() {
				if !ok {
					failed.Add(1)
					connected.Done()
				}
			}()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				<-sem
				return
			}
			context.AfterFunc(ctx, func() { c.Close() })
			fmt.Fprintf(c, "GET /v1/streams/bench/events HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", addr)
			br := bufio.NewReaderSize(c, 4096)
			resp, err := http.ReadResponse(br, nil)
			<-sem
			if err != nil || resp.StatusCode != http.StatusOK {
				return
			}
			body := bufio.NewReaderSize(resp.Body, 4096)
			if line, err := body.ReadString('\n'); err != nil || line != ":ok\n" {
				return
			}
			ok = true
			connected.Done()
			for {
				line, err := body.ReadSlice('\n')
				if err != nil {
					return
				}
				if !bytes.HasPrefix(line, []byte("data: ")) {
					continue
				}
				now := time.Now().UnixNano()
				if k := bytes.Index(line, []byte(`"n":`)); k >= 0 {
					var sent int64
					for _, ch := range line[k+4:] {
						if ch < '0' || ch > '9' {
							break
						}
						sent = 10*sent + int64(ch-'0')
					}
					got[i] = append(got[i], time.Duration(now-sent))
					counts[i].Add(1)
				}
			}
		})
	}
	connected.Wait()
	waitMetric(b, base, `sluice_subscribers{stream="bench"}`, float64(subs)-float64(failed.Load()))
	nodeCPU0, _ := tbCPUTime(pid)
	self0 := selfCPU()
	start := time.Now()
	// The producer keeps the rate whatever a produce takes: each event its
	// own request, sent on the tick (at most 100 at a time).
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	var posts sync.WaitGroup
	inflight := make(chan struct{}, 100)
	var produceErr atomic.Value
	var postMu sync.Mutex
	for i := range events {
		<-tick.C
		inflight <- struct{}{}
		posts.Go(func() {
			defer func() { <-inflight }()
			sent := time.Now()
			body := fmt.Sprintf(`{"id":"s%d-%d","dt":%q,"n":%d}`, start.UnixNano(), i, time.Now().UTC().Format(time.RFC3339Nano), time.Now().UnixNano())
			resp, err := client.Post(base+"/v1/streams/bench/events", "application/json", strings.NewReader(body))
			if err != nil {
				produceErr.Store(err.Error())
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				produceErr.Store(fmt.Sprint("produce: ", resp.StatusCode))
			}
			postMu.Lock()
			res.post = append(res.post, time.Since(sent))
			postMu.Unlock()
		})
	}
	tick.Stop()
	posts.Wait()
	res.produceWall = time.Since(start)
	if err := produceErr.Load(); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		all := 0
		for i := range counts {
			if counts[i].Load() >= int64(events) {
				all++
			}
		}
		res.served = all
		if all == subs-int(failed.Load()) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.wall = time.Since(start)
	nodeCPU1, _ := tbCPUTime(pid)
	res.nodeCPU, res.selfCPU = nodeCPU1-nodeCPU0, selfCPU()-self0
	res.rss, res.hwm = procMem(pid)
	res.heap, res.stacks = metricValue(base, "go_memstats_heap_inuse_bytes"), metricValue(base, "go_memstats_stack_inuse_bytes")
	cancel()
	wg.Wait()
	res.failed = int(failed.Load())
	for i := range got {
		res.lat = append(res.lat, got[i]...)
	}
	return res
}

func waitMetric(b *testing.B, base, series string, want float64) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		v := -1.0
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
				v, _ = strconv.ParseFloat(rest, 64)
			}
		}
		resp.Body.Close()
		if v == want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s is %v after 60s, want %v", series, v, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metricValue reads one unlabelled series of the node's /metrics.
func metricValue(base, name string) float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			v, _ := strconv.ParseFloat(rest, 64)
			return v
		}
	}
	return 0
}

func selfCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procMem is a process's resident set and its peak, in bytes.
func procMem(pid int) (rss, hwm uint64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	return rss, hwm
}
