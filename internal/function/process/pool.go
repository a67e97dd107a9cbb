//go:build unix

package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/sluice-dev/sluice/internal/function/invocation"
)

// Pool is a process function's instances: an invocation.Invoker that
// hands each invocation to the first instance that asks for one.
type Pool struct {
	cfg       Config
	log       *slog.Logger
	work      chan *call // taken by the instances' /next
	instances []*instance
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu      sync.Mutex
	changed chan struct{} // closed (and replaced) when an instance changes state

	invocations, failures atomic.Uint64
}

// call is one invocation, from Invoke to its answer.
type call struct {
	id   string
	body []byte
	done chan outcome // buffered: the answer never waits for its caller
}

type outcome struct {
	reply invocation.Reply
	err   error
}

func (c *call) finish(o outcome) {
	select {
	case c.done <- o:
	default: // answered already (a late answer after a timeout)
	}
}

// Start starts the instances; they get ready in the background.
func Start(cfg Config) (*Pool, error) {
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	if cfg.instances < 1 {
		return nil, errors.New("at least one instance")
	}
	p := &Pool{cfg: cfg, log: cfg.log, work: make(chan *call), changed: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	for i := range cfg.instances {
		in := &instance{pool: p, index: i, state: stateStarting}
		p.instances = append(p.instances, in)
		p.wg.Go(in.run)
	}
	return p, nil
}

// Concurrency is the number of instances.
func (p *Pool) Concurrency() int { return len(p.instances) }

// Invoke hands body to an instance and waits for its answer. While no
// instance can start (each one's last start failed), it fails at once as
// unavailable.
func (p *Pool) Invoke(ctx context.Context, body []byte) (invocation.Reply, error) {
	for {
		c := &call{id: uuid.NewString(), body: body, done: make(chan outcome, 1)}
		if err := p.offer(ctx, c); err != nil {
			return invocation.Reply{}, err
		}
		select {
		case o := <-c.done:
			if errors.Is(o.err, errNotDelivered) {
				continue // the instance ended as it took it: another one will
			}
			p.invocations.Add(1)
			if o.err != nil {
				p.failures.Add(1)
			}
			return o.reply, o.err
		case <-ctx.Done():
			// The caller is gone; the instance finishes (or times out) alone.
			return invocation.Reply{}, ctx.Err()
		}
	}
}

// offer waits until an instance takes c.
func (p *Pool) offer(ctx context.Context, c *call) error {
	for {
		p.mu.Lock()
		ch := p.changed
		down := p.unavailable()
		p.mu.Unlock()
		if down != nil {
			return down
		}
		select {
		case p.work <- c:
			return nil
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.ctx.Done():
			return invocation.Unavailablef("function %s is stopped", p.cfg.name)
		}
	}
}

// unavailable is the failure to give while every instance failed to start
// last time; nil if any is starting, ready or busy. Called with mu held.
func (p *Pool) unavailable() error {
	var last *instance
	for _, in := range p.instances {
		if in.state != stateFailing {
			return nil
		}
		if last == nil || in.lastErrAt.After(last.lastErrAt) {
			last = in
		}
	}
	f := *last.startErr
	f.Class, f.Type = invocation.Unavailable, invocation.TypeUnavailable
	f.Message = fmt.Sprintf("function %s cannot start: %s", p.cfg.name, last.startErr.Error())
	return &f
}

// notify wakes the invocations waiting for an instance. Called with mu held.
func (p *Pool) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Close stops every process (SIGTERM, then SIGKILL after a grace period)
// and waits for them.
func (p *Pool) Close() error {
	p.cancel()
	p.wg.Wait()
	return nil
}

// State is the function's state and its instances'.
type State struct {
	State       string          `json:"state"` // ready, starting, failing, stopped
	Instances   []InstanceState `json:"instances"`
	Invocations uint64          `json:"invocations"`
	Failures    uint64          `json:"failures"` // invocations that failed as a whole
}

// InstanceState is one instance.
type InstanceState struct {
	Index         int        `json:"index"`
	State         string     `json:"state"` // starting, ready, busy, restarting, failing, stopped
	PID           int        `json:"pid,omitempty"`
	Restarts      int        `json:"restarts"`
	StartedAt     *time.Time `json:"started_at,omitempty"`
	Invocations   uint64     `json:"invocations"`
	LastExit      string     `json:"last_exit,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	LastErrorTime *time.Time `json:"last_error_time,omitempty"`
}

// State reports the instances.
func (p *Pool) State() any {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := State{Invocations: p.invocations.Load(), Failures: p.failures.Load(), State: stateStopped}
	rank := map[string]int{stateStopped: 0, stateFailing: 1, stateRestarting: 2, stateStarting: 3, stateBusy: 4, stateReady: 4}
	for _, in := range p.instances {
		is := in.view()
		s.Instances = append(s.Instances, is)
		st := is.State
		if st == stateBusy {
			st = stateReady
		}
		if rank[st] > rank[s.State] {
			s.State = st
		}
	}
	if s.State == stateRestarting {
		s.State = stateStarting
	}
	return s
}
