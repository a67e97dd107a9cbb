//go:build reliability

package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if code == 0 {
		readClient.CloseIdleConnections()
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binary builds cmd/sluice once per run.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "sluice-reliability-"); buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "sluice"), "../../cmd/sluice").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "sluice")
}

// proc is a sluice process.
type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *os.File
}

// startProc runs `sluice args... --addr <free port>`, its output appended
// to logFile.
func startProc(t testing.TB, logFile string, args ...string) *proc {
	t.Helper()
	return startProcAt(t, logFile, freeAddr(t), args...)
}

// startProcAt runs `sluice args... --addr addr` (a process started again
// on the address it had), its output appended to logFile.
func startProcAt(t testing.TB, logFile, addr string, args ...string) *proc {
	t.Helper()
	logs, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), append(args, "--addr", addr)...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, url: "http://" + addr, logs: logs}
	t.Cleanup(func() { p.kill() })
	return p
}

// kill sends SIGKILL and reaps the process; again is harmless.
func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
		p.logs.Close()
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		p.logs.Close()
		if err != nil {
			t.Errorf("sluice did not stop cleanly: %v", err)
		}
	case <-time.After(60 * time.Second):
		p.kill()
		t.Errorf("sluice did not stop within 60s of SIGTERM")
	}
}

// ready reports whether /readyz answers 200.
func ready(base string) bool {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func waitReady(t testing.TB, base string) {
	t.Helper()
	waitFor(t, 60*time.Second, "ready", func() bool { return ready(base) })
}

// waitFor polls cond until it holds, or fails after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not %s after %v", what, d)
		}
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// getJSON decodes GET url into v.
func getJSON(base, path string, v any) error {
	resp, err := http.Get(base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s %s", path, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func mustGet(t testing.TB, base, path string, v any) {
	t.Helper()
	if err := getJSON(base, path, v); err != nil {
		t.Fatal(err)
	}
}

// post sends body (JSON, or nil) and decodes a 2xx answer into v (if not nil).
func post(t testing.TB, base, path string, body []byte, v any) {
	t.Helper()
	resp, err := http.Post(base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %s %s", path, resp.Status, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("POST %s: %v: %s", path, err, b)
		}
	}
}

// produce posts a body of events to a stream and returns the status and
// the answer.
func produce(t *testing.T, base, stream, contentType string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(base+"/v1/streams/"+stream+"/events", contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// readClient reads streams: a page of events takes well under a second,
// so a read that takes a minute is stuck.
var readClient = &http.Client{Timeout: time.Minute}

// readStream reads every event of a stream, in order.
func readStream(t *testing.T, base, name string) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	since := "earliest"
	for {
		resp, err := readClient.Get(base + "/v1/streams/" + name + "/events?limit=10000&since=" + since)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("read %s: %v %s %.200s", name, err, resp.Status, b)
		}
		n := 0
		for _, l := range bytes.Split(b, []byte("\n")) {
			if len(l) > 0 {
				out = append(out, json.RawMessage(bytes.Clone(l)))
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

// streamInfo is what the tests read of GET /v1/streams/{name}.
type streamInfo struct {
	Messages uint64 `json:"messages"`
	LastSeq  uint64 `json:"last_seq"`
}

func infoOf(t *testing.T, base, name string) streamInfo {
	t.Helper()
	var info streamInfo
	mustGet(t, base, "/v1/streams/"+name, &info)
	return info
}

// rssKB is the resident set size of a process, from /proc.
func rssKB(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

// envDuration reads a duration from the environment, or def.
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return d
}

func envInt(t testing.TB, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}
