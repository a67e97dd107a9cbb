package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPipelineSurvivesKill9 kills the whole process with SIGKILL while a
// pipeline works through a backlog, five times, then checks that the
// output stream has exactly one output per input, in input order.
func TestPipelineSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the crash test")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "in.json"), []byte(`{"type":"object","required":["meta","n"]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "out.json"), []byte(`{"type":"object","required":["meta","n"]}`), 0o644)
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte(`streams:
  in: {schema: in.json}
  out: {schema: out.json}
pipelines:
  copy:
    from: in
    start: earliest
    function: {name: jq, config: {program: '{meta: {id: (.meta.id + "-out"), dt: .meta.dt}, n}'}}
    max_in_flight: 200
    to: [{stream: out}]
`), 0o644)
	const total = 30000
	run := func() (*exec.Cmd, string) {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "serve", "--config", cfg, "--data", filepath.Join(dir, "data"), "--addr", addr)
		cmd.Stdout, cmd.Stderr = nil, nil
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
	// Each kill lands while the pipeline works: once it has written more
	// since the (re)start, after a random short while. Waiting for progress
	// rather than sleeping a fixed time keeps the kills inside the work on a
	// machine of any speed.
	rng := rand.New(rand.NewPCG(3, 4))
	kills, midBatch, last := 0, 0, 0
	for kills < 5 && last < total {
		for deadline := time.Now().Add(60 * time.Second); countLines(t, base, "out") <= last; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no progress past %d outputs in 60 s", last)
			}
		}
		time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		n := countLines(t, base, "out")
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		kills++
		if n > 0 && n < total {
			midBatch++
		}
		cmd, base = run()
		waitReady(t, base)
		last = countLines(t, base, "out") // what was written before the kill, and since the restart
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	if midBatch < 3 {
		t.Fatalf("only %d of %d kills hit the pipeline while it worked", midBatch, kills)
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
		if id != fmt.Sprintf("e%05d-out", i) {
			t.Fatalf("output %d is %s: a gap, a duplicate or out of order", i, id)
		}
	}
	t.Logf("%d inputs, %d outputs exactly once after %d kill -9s (%d mid-work)", total, len(out), kills, midBatch)
}

func countLines(t *testing.T, base, stream string) int {
	resp, err := http.Get(base + "/v1/streams/" + stream)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	i := strings.Index(b.String(), `"messages":`)
	if i < 0 {
		return 0
	}
	var n int
	fmt.Sscanf(b.String()[i+len(`"messages":`):], "%d", &n)
	return n
}

func outputIDs(t *testing.T, base string) []string {
	t.Helper()
	var out []string
	since := "earliest"
	for {
		resp, err := http.Get(base + "/v1/streams/out/events?limit=10000&envelope=true&since=" + since)
		if err != nil {
			return out
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		lines := strings.Split(strings.TrimSpace(b.String()), "\n")
		n := 0
		for _, l := range lines {
			if i := strings.Index(l, `"id":"`); i >= 0 {
				rest := l[i+6:]
				out = append(out, rest[:strings.IndexByte(rest, '"')])
				n++
			}
		}
		next := resp.Header.Get("Sluice-Next")
		if n == 0 || next == since {
			return out
		}
		since = next
	}
}
