//go:build unix

package process

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/sluice-dev/sluice/internal/function/invocation"
)

// Instance states.
const (
	stateStarting   = "starting"   // started, not yet at its first /next
	stateReady      = "ready"      // waiting for an invocation
	stateBusy       = "busy"       // holding an invocation
	stateRestarting = "restarting" // waiting out the backoff after an exit
	stateFailing    = "failing"    // its last start failed; waiting out the backoff
	stateStopped    = "stopped"
)

const (
	stopGrace = 2 * time.Second        // SIGTERM to SIGKILL on shutdown
	eofWait   = 1 * time.Second        // for the output of a process that exited
	minWait   = 100 * time.Millisecond // the first restart's backoff
	maxWait   = 30 * time.Second
)

// errNotDelivered: the invocation never reached the process; offer it again.
var errNotDelivered = errors.New("invocation not delivered")

// instance runs one process after another: each start is a generation
// with a Runtime API (a listener) of its own, so nothing of a process
// that ended can reach the next.
type instance struct {
	pool  *Pool
	index int

	// guarded by pool.mu
	state       string
	pid         int
	restarts    int
	startedAt   time.Time
	invocations uint64
	lastExit    string
	lastErr     string
	lastErrAt   time.Time
	startErr    *invocation.Failure // why the last start failed
}

func (in *instance) set(f func(in *instance)) {
	p := in.pool
	p.mu.Lock()
	before := in.state
	f(in)
	if (before == stateFailing) != (in.state == stateFailing) || in.state == stateStopped {
		p.notify()
	}
	p.mu.Unlock()
}

func (in *instance) view() InstanceState {
	s := InstanceState{Index: in.index, State: in.state, PID: in.pid, Restarts: in.restarts,
		Invocations: in.invocations, LastExit: in.lastExit, LastError: in.lastErr}
	if !in.startedAt.IsZero() {
		t := in.startedAt
		s.StartedAt = &t
	}
	if !in.lastErrAt.IsZero() {
		t := in.lastErrAt
		s.LastErrorTime = &t
	}
	return s
}

// run starts the process again and again, with backoff, until the pool closes.
func (in *instance) run() {
	ctx := in.pool.ctx
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.Multiplier, b.MaxInterval, b.RandomizationFactor = minWait, 2, maxWait, 0.2
	b.Reset()
	for {
		res := in.generation(ctx)
		if ctx.Err() != nil {
			in.set(func(in *instance) { in.state, in.pid = stateStopped, 0 })
			return
		}
		if res.answered {
			b.Reset()
		}
		wait := b.NextBackOff()
		now := time.Now().UTC()
		in.set(func(in *instance) {
			in.pid, in.restarts = 0, in.restarts+1
			in.lastExit = res.exit
			if res.startErr != nil {
				in.state, in.startErr = stateFailing, res.startErr
				in.lastErr, in.lastErrAt = res.startErr.Error(), now
			} else {
				in.state = stateRestarting
				if res.err != "" {
					in.lastErr, in.lastErrAt = res.err, now
				}
			}
		})
		log := in.pool.log.With("function", in.pool.cfg.name, "instance", in.index, "exit", res.exit, "restart_in", wait)
		if res.startErr != nil {
			log.Warn("function process did not start", "err", res.startErr.Error())
		} else {
			log.Warn("function process ended", "err", res.err)
		}
		select {
		case <-ctx.Done():
			in.set(func(in *instance) { in.state = stateStopped })
			return
		case <-time.After(wait):
		}
	}
}

// ended is how a generation ended.
type ended struct {
	exit     string              // "exit status 1", "signal: killed"
	err      string              // why, when it was not asked to stop
	startErr *invocation.Failure // set when it never got ready
	answered bool                // it answered an invocation
}

// generation is one start of the process.
type generation struct {
	in             *instance
	cmd            *exec.Cmd
	stdout, stderr *output
	ready          chan struct{}
	recorded       chan struct{} // closed once the process's pid is in the instance's state: invocations wait for it
	readyOnce      sync.Once
	exited         chan struct{}
	answered       atomic.Bool
	pidMu          sync.Mutex
	pidOf          int  // set once started (handlers may run before Start returns)
	killEarly      bool // kill was asked before the pid was known

	mu       sync.Mutex
	current  *call
	waiting  bool // a /next is waiting for an invocation
	timer    *time.Timer
	timedOut bool   // the current invocation passed its timeout
	broken   string // the process broke the protocol
	initErr  *invocation.Error
}

// generation starts the process, serves it, and returns when it ended.
func (in *instance) generation(ctx context.Context) ended {
	cfg := &in.pool.cfg
	g := &generation{in: in, ready: make(chan struct{}), recorded: make(chan struct{}), exited: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return ended{startErr: &invocation.Failure{Message: fmt.Sprintf("listen for the Runtime API: %v", err)}}
	}
	srv := &http.Server{Handler: g.routes(), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	logLine := func(stream string) func(string) {
		return func(line string) {
			in.pool.log.Info("function output", "function", cfg.name, "instance", in.index, "pid", g.pid(), "stream", stream, "line", line)
		}
	}
	var wOut, wErr *os.File
	if g.stdout, wOut, err = newOutput(logLine("stdout")); err != nil {
		return ended{startErr: &invocation.Failure{Message: err.Error()}}
	}
	if g.stderr, wErr, err = newOutput(logLine("stderr")); err != nil {
		_ = wOut.Close()
		go g.stdout.run()
		g.stdout.close()
		return ended{startErr: &invocation.Failure{Message: err.Error()}}
	}
	g.cmd = exec.Command(cfg.path, cfg.args...)
	g.cmd.Dir = cfg.dir
	g.cmd.Env = instanceEnv(cfg.env, cfg.name, in.index, ln.Addr().String())
	g.cmd.Stdout, g.cmd.Stderr = wOut, wErr
	g.cmd.SysProcAttr = sysProcAttr()
	err = g.cmd.Start()
	_, _ = wOut.Close(), wErr.Close()
	go g.stdout.run()
	go g.stderr.run()
	if err != nil {
		g.stdout.close()
		g.stderr.close()
		return ended{startErr: &invocation.Failure{Message: fmt.Sprintf("start %s: %v", cfg.path, err)}}
	}
	g.started(g.cmd.Process.Pid)
	now := time.Now().UTC()
	in.set(func(in *instance) { in.state, in.pid, in.startedAt = stateStarting, g.cmd.Process.Pid, now })
	close(g.recorded)
	var exitErr error
	go func() {
		exitErr = g.cmd.Wait()
		close(g.exited)
	}()
	res := g.serve(ctx)
	<-g.exited
	// The process is gone; its output ends once its children's copies close.
	select {
	case <-g.stderr.done:
	case <-time.After(eofWait):
	}
	res.exit = exitText(exitErr)
	stderr := g.stderr.tailText()
	g.stdout.close()
	g.stderr.close()
	res.answered = g.answered.Load()
	g.mu.Lock()
	c, timedOut, broken, initErr := g.current, g.timedOut, g.broken, g.initErr
	g.current = nil
	if g.timer != nil {
		g.timer.Stop()
	}
	g.mu.Unlock()
	if c != nil {
		f := &invocation.Failure{Class: invocation.Bisect, Type: invocation.TypeExit, Exit: res.exit, Stderr: stderr,
			Message: "the process ended while it held the invocation (" + res.exit + ")"}
		switch {
		case timedOut:
			f.Type, f.Message = invocation.TypeTimeout, fmt.Sprintf("the invocation passed its timeout (%s); the process was killed", cfg.timeout)
		case broken != "":
			f.Type, f.Message = "Runtime.InvalidState", broken
		}
		res.err = f.Error()
		c.finish(outcome{err: f})
	}
	if res.startErr != nil || initErr != nil {
		f := res.startErr
		if f == nil {
			f = &invocation.Failure{}
		}
		if initErr != nil {
			f.Type, f.Message, f.Stack = initErr.Type, initErr.Message, initErr.Stack
		} else if f.Message == "" {
			f.Message = "the process ended before asking for an invocation (" + res.exit + ")"
		}
		f.Class, f.Exit, f.Stderr = invocation.Unavailable, res.exit, stderr
		res.startErr = f
	} else if res.err == "" && ctx.Err() == nil {
		res.err = "the process ended (" + res.exit + ")"
	}
	return res
}

// serve waits for the process to get ready, then for it to end.
func (g *generation) serve(ctx context.Context) ended {
	cfg := &g.in.pool.cfg
	start := time.NewTimer(cfg.startTimeout)
	defer start.Stop()
	select {
	case <-g.ready:
		g.in.set(func(in *instance) {
			if in.state == stateStarting {
				in.state = stateReady
			}
		})
	case <-g.exited:
		return ended{startErr: &invocation.Failure{}}
	case <-start.C:
		g.kill()
		return ended{startErr: &invocation.Failure{Message: fmt.Sprintf("the process did not ask for an invocation within start_timeout (%s)", cfg.startTimeout)}}
	case <-ctx.Done():
		g.stop()
		return ended{}
	}
	select {
	case <-g.exited:
	case <-ctx.Done():
		g.stop()
	}
	return ended{}
}

// hold makes c the invocation the process holds, with its timeout.
func (g *generation) hold(c *call) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.exited:
		return false
	default:
	}
	if g.current != nil {
		return false // one invocation at a time: the call goes to another instance
	}
	g.current, g.timedOut = c, false
	g.timer = time.AfterFunc(g.in.pool.cfg.timeout, func() {
		g.mu.Lock()
		late := g.current == c
		g.timedOut = late
		g.mu.Unlock()
		if late {
			g.kill()
		}
	})
	g.in.set(func(in *instance) { in.state, in.invocations = stateBusy, in.invocations+1 })
	return true
}

// held is the held invocation if its id is id.
func (g *generation) held(id string) *call {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.current == nil || g.current.id != id || g.timedOut {
		return nil
	}
	return g.current
}

// release ends holding the invocation id and returns it.
func (g *generation) release(id string) *call {
	g.mu.Lock()
	c := g.current
	if c == nil || c.id != id || g.timedOut {
		g.mu.Unlock()
		return nil
	}
	g.current = nil
	g.timer.Stop()
	g.mu.Unlock()
	g.in.set(func(in *instance) {
		if in.state == stateBusy {
			in.state = stateReady
		}
	})
	return c
}

// asksAgain handles a /next while an invocation is held: the protocol is
// broken, the process is killed (and the invocation fails when it exits).
// waitNext marks a /next as waiting; false if one already is: a process
// gets one invocation at a time (AWS_LAMBDA_MAX_CONCURRENCY is not set),
// and a second poll at once would take a call the first then loses.
func (g *generation) waitNext() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.waiting {
		return false
	}
	g.waiting = true
	return true
}

func (g *generation) doneNext() {
	g.mu.Lock()
	g.waiting = false
	g.mu.Unlock()
}

func (g *generation) asksAgain() string {
	g.mu.Lock()
	c := g.current
	if c != nil {
		g.broken = "the process asked for the next invocation before answering " + c.id
	}
	g.mu.Unlock()
	if c == nil {
		return ""
	}
	g.kill()
	return c.id
}

func (g *generation) pid() int {
	g.pidMu.Lock()
	defer g.pidMu.Unlock()
	return g.pidOf
}

// started records the pid, and kills at once if that was asked already.
func (g *generation) started(pid int) {
	g.pidMu.Lock()
	g.pidOf = pid
	early := g.killEarly
	g.pidMu.Unlock()
	if early {
		signalGroup(pid, syscall.SIGKILL)
	}
}

// kill ends the process and its group at once.
func (g *generation) kill() {
	g.pidMu.Lock()
	pid := g.pidOf
	g.killEarly = pid == 0
	g.pidMu.Unlock()
	if pid > 0 {
		signalGroup(pid, syscall.SIGKILL)
	}
}

// stop asks the process to end (SIGTERM), and kills it after stopGrace.
func (g *generation) stop() {
	pid := g.pid()
	if pid <= 0 {
		return
	}
	signalGroup(pid, syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(stopGrace):
		g.kill()
	}
}

// exitText is how a process ended: "exit status 2", "signal: killed".
func exitText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	if err != nil {
		return err.Error()
	}
	return "exit status 0"
}
