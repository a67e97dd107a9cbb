package natstest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Servers is a JetStream cluster of servers running in the test process.
type Servers struct {
	cluster
	mu   sync.Mutex
	opts []*server.Options // as each server is started, again on a restart
	srvs []*server.Server  // nil while stopped
	logs []*logLines
}

// Cluster starts an n-server JetStream cluster in the test process and
// returns once it is ready (see WaitReady); it fails t otherwise. The
// servers are stopped, their goroutines ended, when the test ends; their
// warnings and errors are logged if it failed.
func Cluster(t testing.TB, n int) *Servers {
	t.Helper()
	if n < 1 {
		t.Fatalf("natstest: a cluster of %d servers", n)
	}
	base := t.TempDir()
	res, err := reserve(2 * n)
	if err != nil {
		t.Fatal("natstest: ", err)
	}
	c := &Servers{opts: make([]*server.Options, n), srvs: make([]*server.Server, n), logs: make([]*logLines, n)}
	c.probe, c.running = c.probeServer, c.Running
	for i := range n {
		c.names = append(c.names, "n"+strconv.Itoa(i+1))
		c.clients = append(c.clients, res.port(2*i))
		c.routes = append(c.routes, res.port(2*i+1))
		c.dirs = append(c.dirs, filepath.Join(base, c.names[i]))
		c.logs[i] = &logLines{}
	}
	for i := range n {
		c.opts[i] = c.options(i)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, l := range c.logs {
				t.Logf("natstest: %s (in process) logged:\n%s", c.names[i], l.String())
			}
		}
		c.stopAll()
	})
	res.release()
	for i := range n {
		if err := c.Start(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *Servers) options(i int) *server.Options {
	var routes []*url.URL
	for j, p := range c.routes {
		if j != i {
			routes = append(routes, &url.URL{Scheme: "nats", Host: host + ":" + strconv.Itoa(p)})
		}
	}
	o := &server.Options{
		ServerName:         c.names[i],
		Host:               host,
		Port:               c.clients[i],
		NoSigs:             true,
		JetStream:          true,
		StoreDir:           c.dirs[i],
		JetStreamMaxMemory: 64 << 20,
		MaxPayload:         8 << 20, // as sluice's embedded server
	}
	if len(c.names) > 1 {
		o.Cluster = server.ClusterOpts{Name: ClusterName, Host: host, Port: c.routes[i]}
		o.Routes = routes
	}
	return o
}

// Server is server i, nil while it is stopped.
func (c *Servers) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.srvs[i]
}

// Running reports whether server i is started.
func (c *Servers) Running(i int) bool { return c.Server(i) != nil }

// Start starts server i (again) with its name, ports and store directory,
// and returns once it accepts clients; the cluster may not be ready yet
// (WaitReady). Starting a running server does nothing.
func (c *Servers) Start(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srvs[i] != nil {
		return nil
	}
	var err error
	// A port freed by the stopped server can be taken for a moment by an
	// outgoing connection's: try again for a while.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var s *server.Server
		if s, err = c.start(i); err == nil {
			c.srvs[i] = s
			return nil
		}
		if !strings.Contains(err.Error(), "address already in use") || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Servers) start(i int) (*server.Server, error) {
	s, err := server.NewServer(c.opts[i].Clone())
	if err != nil {
		return nil, fmt.Errorf("natstest: %s: %w", c.names[i], err)
	}
	c.logs[i].add("--- start ---")
	s.SetLoggerV2(c.logs[i], false, false, false)
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("natstest: %s does not accept clients after 10s: %s", c.names[i], c.logs[i].lastError())
	}
	return s, nil
}

// Stop shuts server i down as a graceful stop does (its stream and meta
// leaders step down first, so others take over at once rather than after
// an election timeout) and waits until it is done. Stopping a stopped
// server does nothing.
func (c *Servers) Stop(i int) error {
	c.mu.Lock()
	s := c.srvs[i]
	c.srvs[i] = nil
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
	return nil
}

func (c *Servers) stopAll() {
	var wg sync.WaitGroup
	for i := range c.names {
		wg.Go(func() { _ = c.Stop(i) })
	}
	wg.Wait()
}

func (c *Servers) probeServer(i int) (health, error) {
	s := c.Server(i)
	if s == nil {
		return health{}, errors.New("stopped")
	}
	h := health{err: healthErr(s.Healthz(nil))}
	if js, err := s.Jsz(&server.JSzOptions{}); err == nil && js.Meta != nil {
		h.meta = js.Meta.Leader
	}
	rz, err := s.Routez(&server.RoutezOptions{})
	if err != nil {
		return health{}, err
	}
	h.routes = routeCounts(rz)
	return h, nil
}

// logLines keeps what a server logs at notice level and above, for the
// log of a test that failed; a fatal error does not end the process.
type logLines struct {
	mu    sync.Mutex
	lines []string
	err   string // the last error or fatal line
}

const maxLogLines = 2000

func (l *logLines) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == maxLogLines {
		l.lines = append(l.lines[:0], l.lines[maxLogLines/2:]...)
	}
	l.lines = append(l.lines, time.Now().Format("15:04:05.000 ")+line)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func (l *logLines) lastError() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *logLines) Noticef(format string, v ...any) { l.add("[INF] " + fmt.Sprintf(format, v...)) }
func (l *logLines) Warnf(format string, v ...any)   { l.add("[WRN] " + fmt.Sprintf(format, v...)) }
func (l *logLines) Debugf(string, ...any)           {}
func (l *logLines) Tracef(string, ...any)           {}
func (l *logLines) Errorf(format string, v ...any)  { l.failure("[ERR] ", format, v) }
func (l *logLines) Fatalf(format string, v ...any)  { l.failure("[FTL] ", format, v) }

func (l *logLines) failure(level, format string, v []any) {
	line := fmt.Sprintf(format, v...)
	l.add(level + line)
	l.mu.Lock()
	l.err = line
	l.mu.Unlock()
}
