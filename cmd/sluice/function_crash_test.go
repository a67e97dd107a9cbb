package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/function/process/processtest"
)

// TestProcessFunctionSurvivesKill9 kills the node with SIGKILL while a
// pipeline works through a backlog with a process function (the
// aws-lambda-go test function, two instances, invocations of 50), five
// times: the output stream then has exactly one output per input, in
// order, and no function process outlives the node that started it.
func TestProcessFunctionSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the crash test")
	}
	bin := buildBinary(t)
	fn := processtest.GoFunction(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ev.json"), []byte(`{"type":"object","required":["meta","n"]}`), 0o644)
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte(`streams:
  in: {schema: ev.json}
  out: {schema: ev.json}
functions:
  gofn:
    process: {command: [`+fn+`], instances: 2}
    max_batch: 50
pipelines:
  copy:
    from: in
    start: earliest
    function: {name: gofn}
    max_in_flight: 200
    to: [{stream: out}]
`), 0o644)
	const total = 20000
	run := func() (*exec.Cmd, string) {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "serve", "--config", cfg, "--data", filepath.Join(dir, "data"), "--addr", addr)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, "http://" + addr
	}
	cmd, base := run()
	waitReady(t, base)
	var body bytes.Buffer
	for i := range total {
		fmt.Fprintf(&body, `{"meta":{"id":"e%05d","dt":"2026-11-27T10:00:00Z"},"n":%d}`+"\n", i, i)
		if (i+1)%5000 == 0 {
			resp, err := http.Post(base+"/v1/streams/in/events", "application/x-ndjson", bytes.NewReader(body.Bytes()))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("produce: %v %v", resp, err)
			}
			resp.Body.Close()
			body.Reset()
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	kills, midWork, last := 0, 0, 0
	for kills < 5 && last < total {
		for deadline := time.Now().Add(60 * time.Second); countLines(t, base, "out") <= last; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no progress past %d outputs in 60 s", last)
			}
		}
		time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		children := childrenOf(cmd.Process.Pid, fn)
		n := countLines(t, base, "out")
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		kills++
		if n > 0 && n < total {
			midWork++
		}
		if runtime.GOOS == "linux" {
			if len(children) != 2 {
				t.Fatalf("the node ran %d function processes, want 2", len(children))
			}
			for _, pid := range children {
				for deadline := time.Now().Add(10 * time.Second); alive(pid); time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("function process %d outlived its node by 10 s", pid)
					}
				}
			}
		}
		cmd, base = run()
		waitReady(t, base)
		last = countLines(t, base, "out")
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	if midWork < 3 {
		t.Fatalf("only %d of %d kills hit the pipeline while it worked", midWork, kills)
	}
	var out []string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if out = outputIDs(t, base); len(out) >= total {
			break
		}
	}
	if len(out) != total {
		t.Fatalf("after %d kills: %d outputs, want %d", kills, len(out), total)
	}
	for i, id := range out {
		if id != fmt.Sprintf("e%05d", i) {
			t.Fatalf("output %d is %s: a gap, a duplicate or out of order", i, id)
		}
	}
	t.Logf("%d inputs, %d outputs exactly once after %d kill -9s (%d mid-work)", total, len(out), kills, midWork)
}

// childrenOf lists the processes of exe whose parent is pid (Linux).
func childrenOf(pid int, exe string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(pid) {
			continue
		}
		if target, _ := os.Readlink("/proc/" + e.Name() + "/exe"); target == exe {
			out = append(out, child)
		}
	}
	return out
}

// alive reports whether pid runs (a zombie waiting for its reaper does not).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}
