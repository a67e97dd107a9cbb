package natstest

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sluice-dev/sluice/internal/testenv"
)

// Procs is a JetStream cluster of nats-server processes (see Binary).
type Procs struct {
	cluster
	bin     string
	monitor []int    // monitoring (HTTP) ports, which probes use
	confs   []string // config files
	outs    []string // files that keep each server's output, run after run
	http    *http.Client

	mu    sync.Mutex
	procs []*proc // nil while not running
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once it exited
	err  error         // how it exited, once done
}

// Processes starts an n-server JetStream cluster of nats-server processes
// and returns once it is ready (see WaitReady); it fails t otherwise.
// Under -short the test is skipped (building the server takes a while).
// The processes are killed when the test ends; if it failed, their output
// is logged. A test binary that dies takes its servers with it (Linux:
// they get SIGKILL when their parent goes).
func Processes(t testing.TB, n int) *Procs {
	t.Helper()
	if testing.Short() {
		testenv.Skip(t, "-short: nats-server processes are not built")
	}
	if n < 1 {
		t.Fatalf("natstest: a cluster of %d servers", n)
	}
	bin := Binary(t)
	base := t.TempDir()
	res, err := reserve(3 * n)
	if err != nil {
		t.Fatal("natstest: ", err)
	}
	p := &Procs{bin: bin, procs: make([]*proc, n),
		http: &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	p.probe, p.running = p.probeProc, p.Running
	for i := range n {
		p.names = append(p.names, "n"+strconv.Itoa(i+1))
		p.clients = append(p.clients, res.port(3*i))
		p.routes = append(p.routes, res.port(3*i+1))
		p.monitor = append(p.monitor, res.port(3*i+2))
		p.dirs = append(p.dirs, filepath.Join(base, p.names[i], "store"))
		p.confs = append(p.confs, filepath.Join(base, p.names[i], "nats.conf"))
		p.outs = append(p.outs, filepath.Join(base, p.names[i], "output.log"))
	}
	for i := range n {
		if err := p.writeConfig(i); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		p.killAll()
		if t.Failed() {
			for i := range n {
				t.Logf("natstest: %s (pid of its last run in the output) wrote:\n%s", p.names[i], tail(p.Output(i), 64<<10))
			}
		}
	})
	res.release()
	for i := range n {
		if err := p.Start(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *Procs) writeConfig(i int) error {
	var routes []string
	for j, port := range p.routes {
		if j != i {
			routes = append(routes, fmt.Sprintf("nats-route://%s:%d", host, port))
		}
	}
	conf := fmt.Sprintf(`server_name: %s
listen: "%s:%d"
http: "%s:%d"
max_payload: 8MB
jetstream {
  store_dir: %q
  max_memory_store: 64MB
}
`, p.names[i], host, p.clients[i], host, p.monitor[i], p.dirs[i])
	if len(p.names) > 1 {
		conf += fmt.Sprintf("cluster {\n  name: %s\n  listen: \"%s:%d\"\n  routes: [%s]\n}\n",
			ClusterName, host, p.routes[i], strings.Join(routes, ", "))
	}
	if err := os.MkdirAll(filepath.Dir(p.confs[i]), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p.confs[i], []byte(conf), 0o644)
}

// Running reports whether server i's process is started and has not exited.
func (p *Procs) Running(i int) bool {
	p.mu.Lock()
	pr := p.procs[i]
	p.mu.Unlock()
	if pr == nil {
		return false
	}
	select {
	case <-pr.done:
		return false
	default:
		return true
	}
}

// Start starts server i's process (again) with its config, ports and
// store directory, and returns once it accepts clients; the cluster may
// not be ready yet (WaitReady). Starting a running server does nothing.
func (p *Procs) Start(i int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr := p.procs[i]; pr != nil {
		select {
		case <-pr.done:
		default:
			return nil
		}
	}
	// A port freed by the killed process can be taken for a moment by an
	// outgoing connection's: try again for a while.
	for deadline := time.Now().Add(10 * time.Second); ; {
		pr, err := p.start(i)
		if err == nil {
			p.procs[i] = pr
			return nil
		}
		if !strings.Contains(err.Error(), "address already in use") || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *Procs) start(i int) (*proc, error) {
	out, err := os.OpenFile(p.outs[i], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the process has its own copy
	from, _ := out.Seek(0, io.SeekEnd)
	cmd := exec.Command(p.bin, "-c", p.confs[i])
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("natstest: start %s: %w", p.names[i], err)
	}
	fmt.Fprintf(out, "--- natstest: %s started, pid %d ---\n", p.names[i], cmd.Process.Pid)
	pr := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		pr.err = cmd.Wait()
		close(pr.done)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if acceptsClients(p.clients[i]) {
			return pr, nil
		}
		select {
		case <-pr.done:
			return nil, fmt.Errorf("natstest: %s exited at start (%v):\n%s", p.names[i], pr.err, p.outputFrom(i, from))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-pr.done
			return nil, fmt.Errorf("natstest: %s does not accept clients after 20s:\n%s", p.names[i], p.outputFrom(i, from))
		}
	}
}

// acceptsClients reports whether a NATS server on port greets a client.
func acceptsClients(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "INFO ")
}

// Kill sends server i's process SIGKILL and waits until it is gone: it
// stores nothing more, flushes nothing, tells no peer. Killing a server
// that is not running does nothing.
func (p *Procs) Kill(i int) error { return p.signal(i, syscall.SIGKILL, 10*time.Second) }

// Stop stops server i's process gracefully (SIGTERM: its stream and meta
// leaders step down first) and waits until it exited, killing it if that
// takes over 30 s.
func (p *Procs) Stop(i int) error {
	err := p.signal(i, syscall.SIGTERM, 30*time.Second)
	if err != nil {
		_ = p.Kill(i)
	}
	return err
}

func (p *Procs) signal(i int, sig syscall.Signal, wait time.Duration) error {
	p.mu.Lock()
	pr := p.procs[i]
	p.mu.Unlock()
	if pr == nil {
		return nil
	}
	select {
	case <-pr.done:
		return nil
	default:
	}
	if err := pr.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("natstest: signal %s: %w", p.names[i], err)
	}
	select {
	case <-pr.done:
		return nil
	case <-time.After(wait):
		return fmt.Errorf("natstest: %s still runs %s after %v", p.names[i], wait, sig)
	}
}

func (p *Procs) killAll() {
	var wg sync.WaitGroup
	for i := range p.names {
		wg.Go(func() { _ = p.Kill(i) })
	}
	wg.Wait()
}

// Output is everything server i wrote, every run of it, each begun by a
// line naming its pid.
func (p *Procs) Output(i int) string { return p.outputFrom(i, 0) }

func (p *Procs) outputFrom(i int, from int64) string {
	b, err := os.ReadFile(p.outs[i])
	if err != nil {
		return "(no output: " + err.Error() + ")"
	}
	return string(b[min(from, int64(len(b))):])
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

func (p *Procs) probeProc(i int) (health, error) {
	var h health
	var hs server.HealthStatus
	if err := p.get(i, "/healthz", &hs); err != nil {
		return health{}, err
	}
	h.err = healthErr(&hs)
	var js server.JSInfo
	if err := p.get(i, "/jsz", &js); err != nil {
		return health{}, err
	}
	if js.Meta != nil {
		h.meta = js.Meta.Leader
	}
	var rz server.Routez
	if err := p.get(i, "/routez", &rz); err != nil {
		return health{}, err
	}
	h.routes = routeCounts(&rz)
	return h, nil
}

// get reads a monitoring endpoint of server i into v (a /healthz that is
// not ok answers 503 with its reasons: still read).
func (p *Procs) get(i int, path string, v any) error {
	resp, err := p.http.Get("http://" + net.JoinHostPort(host, strconv.Itoa(p.monitor[i])) + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
