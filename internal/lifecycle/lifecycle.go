// Package lifecycle runs a node's long-lived components (pipelines,
// sources, file sinks) by name, and changes them while they run.
//
// A Group runs each component in a goroutine of its own, under a context
// of its own, until the group stops. A component can be put (started, or
// put in place of the one of the same name) and removed at any time,
// before Start or while the group runs. A component is never run beside
// the one it replaces: the old one's context is canceled, the group waits
// until its Run returned, closes it, and only then starts the new one, so
// two never share what they hold (a durable consumer, a position).
//
// When several nodes share the work (SetGate), a component runs only while
// its node holds the component's unit ("<kind>.<name>"): it waits on
// Standby until then, and Run is called again each time the unit comes
// back after it was lost or given to another node.
//
// One change (Put, Remove, Start, Stop) runs at a time; Get and List can be
// called meanwhile from any goroutine and see the new component as soon as
// a Put began.
package lifecycle

import (
	"context"
	"errors"
	"sort"
	"sync"
)

// Component is what a Group runs.
type Component interface {
	// Run works until ctx ends, and returns soon after: a change waits
	// for it.
	Run(ctx context.Context)
	// Close releases what the component holds. It is called once, after
	// Run returned, or instead of Run for a component that never started.
	Close() error
}

var (
	// ErrNotFound is returned for a name the group does not have.
	ErrNotFound = errors.New("not found")
	// ErrStopped is returned for a change asked after Stop.
	ErrStopped = errors.New("stopped")
)

// State is where a component is in its life.
type State string

// States of a component.
const (
	Waiting State = "waiting" // not started: the group has not started, or the component it replaces is ending
	Standby State = "standby" // waiting for its unit: another node runs it (see Gate)
	Running State = "running" // Run has not returned
	Ended   State = "ended"   // Run returned: asked to (Stop) or on its own
)

// Entry is a component with its name and state.
type Entry[C Component] struct {
	Name      string
	Component C
	State     State
}

// Gate says when this node may run a unit of work (package lease).
type Gate interface {
	// Hold returns once this node may run unit, with a context that ends
	// when it may no longer, and a release to call once the run ended.
	Hold(ctx context.Context, unit string) (held context.Context, release func(), err error)
}

// Group runs named components. Make one with New.
type Group[C Component] struct {
	turn chan struct{} // holds a token while a change runs
	gate Gate          // nil: every component runs here
	kind string        // the units' prefix

	mu      sync.Mutex // guards what follows
	ctx     context.Context
	cancel  context.CancelFunc
	stopped bool
	byName  map[string]*slot[C]
}

// slot is one component and its run.
type slot[C Component] struct {
	c       C
	cancel  context.CancelFunc // nil until started
	done    chan struct{}      // closed when Run returned
	standby bool               // waiting for its unit (the group's mu guards it)
}

// New makes an empty group.
func New[C Component]() *Group[C] {
	return &Group[C]{turn: make(chan struct{}, 1), byName: map[string]*slot[C]{}}
}

// take waits for the group's turn, at most until ctx ends.
func (g *Group[C]) take(ctx context.Context) error {
	select {
	case g.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Group[C]) give() { <-g.turn }

// SetGate makes each component run only while gate lets this node run
// its unit, kind.<name>. Call it before Start.
func (g *Group[C]) SetGate(kind string, gate Gate) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.kind, g.gate = kind, gate
}

// Start runs every component until Stop; components put later start at
// once. A second Start does nothing.
func (g *Group[C]) Start(ctx context.Context) {
	g.turn <- struct{}{}
	defer g.give()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ctx != nil || g.stopped {
		return
	}
	g.ctx, g.cancel = context.WithCancel(ctx)
	for _, name := range g.names() {
		g.run(name, g.byName[name])
	}
}

// run starts a slot; g.mu is held.
func (g *Group[C]) run(name string, s *slot[C]) {
	ctx, cancel := context.WithCancel(g.ctx)
	s.cancel = cancel
	gate, unit := g.gate, g.kind+"."+name
	go func() {
		defer close(s.done)
		if gate == nil {
			s.c.Run(ctx)
			return
		}
		for ctx.Err() == nil {
			g.setStandby(s, true)
			held, release, err := gate.Hold(ctx, unit)
			g.setStandby(s, false)
			if err != nil {
				return // ctx ended, or the gate closed
			}
			s.c.Run(held)
			ended := held.Err() == nil // before release, which ends held
			release()
			if ended {
				return // Run returned by itself: it ended
			}
		}
	}()
}

func (g *Group[C]) setStandby(s *slot[C], on bool) {
	g.mu.Lock()
	s.standby = on
	g.mu.Unlock()
}

// end stops a slot, waits for its Run, and closes its component.
func (s *slot[C]) end() error {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	return s.c.Close()
}

// Put starts c under name, or puts it in place of the component of that
// name: the old one is stopped, waited for and closed before c starts.
// Before Start, c waits for it. check, if not nil, is called with the
// component c replaces (if any) in the group's turn, before anything
// changes: its error refuses the change, and c is neither started nor
// closed. ctx bounds the wait for the turn only: once the change began it
// ends (it takes what the old component's Run takes to return). An error
// closing the old component is its own to report: Put's error says
// whether c runs.
func (g *Group[C]) Put(ctx context.Context, name string, c C, check func(old C) error) error {
	if err := g.take(ctx); err != nil {
		return err
	}
	defer g.give()
	g.mu.Lock()
	old, stopped := g.byName[name], g.stopped
	g.mu.Unlock()
	if stopped {
		return ErrStopped
	}
	if old != nil && check != nil {
		if err := check(old.c); err != nil {
			return err
		}
	}
	s := &slot[C]{c: c, done: make(chan struct{})}
	g.mu.Lock()
	g.byName[name] = s
	g.mu.Unlock()
	if old != nil {
		_ = old.end()
	}
	g.mu.Lock()
	if g.ctx != nil {
		g.run(name, s)
	}
	g.mu.Unlock()
	return nil
}

// Remove stops the component of name, waits for it and closes it; the
// error is ErrNotFound, check's (called as by Put, before anything
// changes), or the component's Close's. ctx bounds the wait for the turn
// only.
func (g *Group[C]) Remove(ctx context.Context, name string, check func(old C) error) error {
	if err := g.take(ctx); err != nil {
		return err
	}
	defer g.give()
	g.mu.Lock()
	old, stopped := g.byName[name], g.stopped
	g.mu.Unlock()
	if stopped {
		return ErrStopped
	}
	if old == nil {
		return ErrNotFound
	}
	if check != nil {
		if err := check(old.c); err != nil {
			return err
		}
	}
	g.mu.Lock()
	delete(g.byName, name)
	g.mu.Unlock()
	return old.end()
}

// Stop ends every component at once, waits for them and closes them, in
// name order; a component that never started is closed too. They stay
// listed (Ended, or Waiting if never started). Changes asked after Stop
// fail with ErrStopped; a second Stop does nothing.
func (g *Group[C]) Stop() {
	g.turn <- struct{}{}
	defer g.give()
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return
	}
	g.stopped = true
	var slots []*slot[C]
	for _, name := range g.names() {
		slots = append(slots, g.byName[name])
	}
	cancel := g.cancel
	g.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	for _, s := range slots {
		_ = s.end()
	}
}

// Get returns the component of name.
func (g *Group[C]) Get(name string) (Entry[C], bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.byName[name]
	if !ok {
		return Entry[C]{}, false
	}
	return s.entry(name), true
}

// List returns every component, in name order.
func (g *Group[C]) List() []Entry[C] {
	g.mu.Lock()
	defer g.mu.Unlock()
	names := g.names()
	out := make([]Entry[C], len(names))
	for i, name := range names {
		out[i] = g.byName[name].entry(name)
	}
	return out
}

// names returns the names in order; g.mu is held.
func (g *Group[C]) names() []string {
	names := make([]string, 0, len(g.byName))
	for name := range g.byName {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// entry describes a slot; the group's mu is held.
func (s *slot[C]) entry(name string) Entry[C] {
	e := Entry[C]{Name: name, Component: s.c, State: Waiting}
	if s.cancel != nil {
		e.State = Running
		if s.standby {
			e.State = Standby
		}
		select {
		case <-s.done:
			e.State = Ended
		default:
		}
	}
	return e
}
