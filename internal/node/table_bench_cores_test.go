//go:build linux

package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sluice-dev/sluice/internal/node"
)

// The "Cores" part of the table benchmark gives the server the same CPU as
// the direct lookups get, and the client a CPU of its own: the loaded node
// is reopened in a child process (this test binary, see tbChild) held to one
// CPU with GOMAXPROCS=1, which either runs the direct lookups itself or
// serves them over HTTP to this process, held to the other CPU. So the
// HTTP/direct ratio is what HTTP adds to a lookup on the server, not the
// client's share of two cores it would otherwise split with the server, as
// when the client runs on another machine. Linux only (sched_setaffinity);
// skipped with fewer than two CPUs.

// tbChildEnv names the child's mode: direct, serve or fixed.
const tbChildEnv = "SLUICE_TB_CHILD"

// tbChildResult is what a child in direct mode prints.
type tbChildResult struct {
	QPS float64       `json:"qps"`
	P50 time.Duration `json:"p50"`
	P99 time.Duration `json:"p99"`
	Err string        `json:"err,omitempty"`
}

// tbCPUs returns the first two CPUs this process may run on.
func tbCPUs() ([2]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return [2]int{}, err
	}
	var cpus []int
	for c := 0; c < 1024 && len(cpus) < 2; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) < 2 {
		return [2]int{}, fmt.Errorf("%d CPU(s) available", set.Count())
	}
	return [2]int{cpus[0], cpus[1]}, nil
}

// tbPin holds every thread of this process to set; threads started later
// inherit it from the thread that starts them. It goes over the threads
// until a pass finds none it has not held, so that a thread started by one
// not yet held during a pass is held too.
func tbPin(set *unix.CPUSet) error {
	held := map[int]bool{}
	for {
		tids, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		fresh := false
		for _, t := range tids {
			tid, err := strconv.Atoi(t.Name())
			if err != nil || held[tid] {
				continue
			}
			fresh, held[tid] = true, true
			if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("sched_setaffinity(%d): %w", tid, err)
			}
		}
		if !fresh {
			return nil
		}
	}
}

// tbPinTo holds this process to cpu until the returned function restores
// its former CPUs.
func tbPinTo(b *testing.B, cpu int) func() {
	b.Helper()
	var was, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &was); err != nil {
		b.Fatal(err)
	}
	set.Set(cpu)
	if err := tbPin(&set); err != nil {
		b.Fatal(err)
	}
	return func() {
		if err := tbPin(&was); err != nil {
			b.Error(err)
		}
	}
}

// tbStartChild starts this test binary as a child in mode on cpu, with the
// node's data in dir, and returns it with its output and a function that
// stops it: it closes the child's standard input, on which a serving child
// exits, and kills a child still running 10 s later. The benchmark's
// cleanup stops it too.
func tbStartChild(b *testing.B, mode string, cpu int, dir string, extra ...string) (*exec.Cmd, *bufio.Reader, func()) {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), tbChildEnv+"="+mode, "SLUICE_TB_CPU="+strconv.Itoa(cpu),
		"SLUICE_TB_DATA="+dir, "GOMAXPROCS=1")
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := sync.OnceFunc(func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	b.Cleanup(stop)
	return cmd, bufio.NewReader(out), stop
}

// tbCPUTime returns the CPU time process pid has used.
func tbCPUTime(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// Fields after the command, which is in parentheses and may hold spaces.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / 100, nil // USER_HZ is 100 on Linux
}

// tbRunCores is the Cores sub-benchmark: the node in dir, which must not be
// open elsewhere, looked up directly and over HTTP by a child on one CPU,
// the HTTP clients on the other.
func tbRunCores(b *testing.B, d *tbData, dir string, body []byte) {
	cpus, err := tbCPUs()
	if err != nil {
		b.Skipf("the server and the client need a CPU each: %v", err)
	}
	n := b.N * tbQueries

	// Direct: the child looks up and reports; its one CPU is busy throughout.
	_, out, stop := tbStartChild(b, "direct", cpus[0], dir, "SLUICE_TB_QUERIES="+strconv.Itoa(n))
	line, err := out.ReadBytes('\n')
	if err != nil {
		b.Fatalf("direct child: %v", err)
	}
	var direct tbChildResult
	if err := json.Unmarshal(line, &direct); err != nil || direct.Err != "" {
		b.Fatalf("direct child: %s %v", line, err)
	}
	stop()
	b.Logf("direct, one CPU: %d queries, %d clients: %.0f queries/s (%.1f µs each), p50 %v, p99 %v",
		n, tbClients, direct.QPS, 1e6/direct.QPS, direct.P50, direct.P99)

	// Over HTTP: the child serves, the clients run here, on the other CPU.
	unpin := tbPinTo(b, cpus[1])
	defer unpin()
	served := func(what, mode string, extra ...string) tbServed {
		cmd, out, stop := tbStartChild(b, mode, cpus[0], dir, extra...)
		defer stop() // before the next child starts on the same CPU
		line, err := out.ReadString('\n')
		addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
		if err != nil || !ok {
			b.Fatalf("%s child: %q %v", mode, line, err)
		}
		s := tbServe(b, cmd.Process.Pid, addr, d, n)
		b.Logf("%s, server on one CPU: %d queries, %d clients: %.0f queries/s, p50 %v, p99 %v; the server's CPU %.0f%% busy, %.1f µs per query",
			what, n, tbClients, s.qps, s.p50, s.p99, 100*s.busy, s.cpu)
		return s
	}
	lookups := served("HTTP", "serve")
	fixed := served("HTTP alone, fixed answer", "fixed", "SLUICE_TB_BODY="+string(body))

	ratio := lookups.qps / direct.QPS
	b.ReportMetric(lookups.qps, "queries/s")
	b.ReportMetric(float64(lookups.p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(direct.QPS, "direct-queries/s")
	b.ReportMetric(ratio, "http/direct")
	b.ReportMetric(lookups.cpu, "server-µs/query")
	b.ReportMetric(fixed.cpu, "fixed-µs/query")
	b.ReportMetric(0, "ns/op")
	b.Logf("HTTP/direct with one CPU for the server (or the direct lookups), one for the clients: %.2f; "+
		"at most %.2f with an HTTP exchange costing the server %.1f µs and a lookup %.1f µs",
		ratio, (1e6/direct.QPS)/(1e6/direct.QPS+fixed.cpu), fixed.cpu, 1e6/direct.QPS)
}

// tbServed is what lookups from this process to a served child measured.
type tbServed struct {
	qps      float64
	p50, p99 time.Duration
	busy     float64 // share of its CPU the server used
	cpu      float64 // the server's CPU per query, µs
}

// tbServe warms the server at addr up, then issues the n timed lookups with
// the minimal client (so the server, not the client's CPU, is what limits
// the rate), tbClients at a time, and measures the server's (process pid's)
// CPU time meanwhile.
func tbServe(b *testing.B, pid int, addr string, d *tbData, n int) tbServed {
	b.Helper()
	get := tbGetOn(tbDialAll(b, addr))
	if _, _, err := tbIssue(d.queries(101, tbQueries), get); err != nil { // warm-up
		b.Fatal(err)
	}
	before, err := tbCPUTime(pid)
	if err != nil {
		b.Fatal(err)
	}
	lat, elapsed, err := tbIssue(d.queries(7, n), get)
	if err != nil {
		b.Fatal(err)
	}
	after, err := tbCPUTime(pid)
	if err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	return tbServed{qps: float64(n) / elapsed.Seconds(), p50: lat[len(lat)/2], p99: lat[len(lat)*99/100],
		busy: float64(after-before) / float64(elapsed), cpu: float64((after - before).Microseconds()) / float64(n)}
}

// tbChild runs a child of tbStartChild and returns its exit code.
func tbChild(mode string) int {
	if err := tbChildRun(mode); err != nil {
		fmt.Fprintln(os.Stderr, "table benchmark child:", err)
		return 1
	}
	return 0
}

func tbChildRun(mode string) error {
	cpu, err := strconv.Atoi(os.Getenv("SLUICE_TB_CPU"))
	if err != nil {
		return err
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := tbPin(&set); err != nil {
		return err
	}
	if path := os.Getenv("SLUICE_TB_CPUPROFILE"); path != "" { // a profile of the child's life
		f, err := os.Create(path + "." + mode)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if mode == "fixed" {
		body := []byte(os.Getenv("SLUICE_TB_BODY"))
		srv := &http.Server{Handler: tbFixedHandler(body), ReadHeaderTimeout: 10 * time.Second}
		return tbChildServe(srv)
	}
	cfg, err := tbConfig(os.Getenv("SLUICE_TB_DATA"))
	if err != nil {
		return err
	}
	ctx := context.Background()
	n, err := node.Start(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer n.Shutdown(ctx)
	switch mode {
	case "serve":
		fmt.Printf("listening %s\n", n.Addr())
		io.Copy(io.Discard, os.Stdin)
		return nil
	case "direct":
		count, err := strconv.Atoi(os.Getenv("SLUICE_TB_QUERIES"))
		if err != nil {
			return err
		}
		d, _ := tbLoadKeys()
		get := tbDirect(ctx, n.Tables)
		var res tbChildResult
		if _, _, err := tbIssue(d.queries(102, tbQueries), get); err != nil { // warm-up
			res.Err = err.Error()
		}
		lat, elapsed, err := tbIssue(d.queries(7, count), get)
		if err != nil {
			res.Err = err.Error()
		} else {
			slices.Sort(lat)
			res.QPS, res.P50, res.P99 = float64(count)/elapsed.Seconds(), lat[len(lat)/2], lat[len(lat)*99/100]
		}
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// tbChildServe serves with srv on a loopback port it prints until its
// standard input closes.
func tbChildServe(srv *http.Server) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go srv.Serve(l)
	fmt.Printf("listening %s\n", l.Addr())
	io.Copy(io.Discard, os.Stdin)
	return srv.Close()
}
