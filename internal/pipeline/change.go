package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/lifecycle"
)

var (
	// ErrFromChanged is returned when a pipeline is put in place of one
	// that reads another stream, without a position to start at: where it
	// is in the old stream means nothing in the new one.
	ErrFromChanged = errors.New("the input stream changed: give a position to start at (reset)")
	// ErrBusy is returned for a change of a pipeline that cannot happen
	// now: an operation runs on it (a *BusyError), or it is being changed.
	ErrBusy = errors.New("pipeline busy")
)

// closeTimeout bounds what a pipeline's Close does in the engine.
const closeTimeout = 10 * time.Second

// PutOptions change how Put starts a pipeline.
type PutOptions struct {
	// Reset, if set, starts the pipeline at this position of its input
	// stream (resolved when Put is called), wherever it was: its consumer is
	// created again there. Needed when the input stream changes.
	Reset *event.Position
	// ResetID names this reset when several nodes are put it (each runs
	// the definition's version): only the first to run the pipeline
	// moves it; the others find the reset of this id done. Empty: the
	// reset is done by this node whatever was done before.
	ResetID string
}

// Put runs a pipeline (at once if the manager is started), or puts it in
// place of the running one of the same name. The old one is stopped, its
// batch in progress left unacknowledged, and its function and outputs
// closed once it ended; the new one then goes on from the same durable
// consumer, so nothing is skipped and nothing is processed again but that
// batch, whose outputs the outputs have already (they skip them by
// position and id). Its pause state and counts go on too.
//
// Put refuses a spec that reads another stream than the running one
// (ErrFromChanged) unless opt.Reset says where to start in it, and a
// pipeline on which an operation runs (ErrBusy, a *BusyError): wait until
// it ends, or cancel it. On an error nothing changed, and s's function and
// outputs are still the caller's to close. ctx bounds the wait for another
// change of the manager's pipelines to end.
func (m *Manager) Put(ctx context.Context, s Spec, opt PutOptions) error {
	if !ValidName(s.Name) {
		return fmt.Errorf("pipeline name %q: want [a-z0-9][a-z0-9_-]{0,63}", s.Name)
	}
	if s.MaxInFlight <= 0 {
		s.MaxInFlight = DefaultMaxInFlight
	}
	var to []string
	for _, o := range s.To {
		to = append(to, o.Name())
	}
	st := &status{s: Status{Name: s.Name, From: s.From, Function: s.FunctionName, To: to, State: Starting}}
	r := &runner{spec: &s, svc: m.svc, cons: m.cons, kv: m.kv, log: m.log, st: st,
		control: make(chan func(context.Context) error), done: make(chan struct{})}
	if m.cluster != nil {
		// Among nodes, an interrupted rebuild starts over where the
		// pipeline writing the table runs, once it runs there.
		r.onRun = func(ctx context.Context) { m.resume(ctx, m.ops.load(ctx, s.Name)) }
		r.onEnd = func() { m.ops.moved(s.Name) }
	}
	if opt.Reset != nil {
		seq, err := m.svc.Resolve(ctx, s.From, *opt.Reset)
		if err != nil {
			return fmt.Errorf("pipeline %q: reset to %s: %w", s.Name, opt.Reset, err)
		}
		r.reset, r.resetID = &seq, opt.ResetID
	}
	held := false
	defer func() {
		if held {
			m.ops.release(s.Name)
		}
	}()
	err := m.runners.Put(ctx, s.Name, r, func(old *runner) error {
		from := old.spec.From
		if from != s.From && opt.Reset == nil {
			return fmt.Errorf("pipeline %q reads %q, the new spec %q: %w", s.Name, from, s.From, ErrFromChanged)
		}
		if err := m.ops.hold(s.Name); err != nil {
			return err
		}
		held = true
		if from != s.From { // its consumer there would only come back at a stale position
			old.onClose = func(ctx context.Context) error { return m.deleteConsumer(ctx, from, s.Name) }
			r.newInput = true
		}
		r.prev = old.st
		return nil
	})
	if errors.Is(err, lifecycle.ErrStopped) {
		return fmt.Errorf("pipeline %q: %w", s.Name, ErrStopping)
	}
	if err != nil {
		return err
	}
	if m.started.Load() && m.cluster == nil {
		m.resume(ctx, m.ops.load(ctx, s.Name)) // a pipeline known before a restart
	}
	m.log.Info("pipeline put", "pipeline", s.Name, "from", s.From, "function", s.FunctionName, "reset", opt.Reset != nil)
	return nil
}

// Remove stops a pipeline, closes its function and outputs, and deletes
// its durable consumer, its pause state and its last operation; its
// output streams and its dead letters stay. ErrNotFound if there is none;
// ErrBusy while an operation runs on it.
func (m *Manager) Remove(ctx context.Context, name string) error {
	held := false
	defer func() {
		if held {
			m.ops.release(name)
		}
	}()
	err := m.runners.Remove(ctx, name, func(old *runner) error {
		if err := m.ops.hold(name); err != nil {
			return err
		}
		held = true
		from := old.spec.From
		old.onClose = func(ctx context.Context) error {
			return errors.Join(m.deleteConsumer(ctx, from, name), m.kv.Delete(ctx, name), m.kv.Delete(ctx, opKey(name)), m.kv.Delete(ctx, resetKey(name)), m.kv.Delete(ctx, countsKey(name)))
		}
		return nil
	})
	switch {
	case errors.Is(err, lifecycle.ErrNotFound):
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	case errors.Is(err, lifecycle.ErrStopped):
		return fmt.Errorf("pipeline %q: %w", name, ErrStopping)
	}
	if held {
		m.ops.forget(name)
	}
	if err != nil {
		return fmt.Errorf("remove pipeline %q: %w", name, err)
	}
	m.log.Info("pipeline removed", "pipeline", name)
	return nil
}

// deleteConsumer deletes a pipeline's consumer on a stream, if both exist.
func (m *Manager) deleteConsumer(ctx context.Context, stream, pipeline string) error {
	err := m.cons.DeleteConsumer(ctx, stream, consumerName(pipeline))
	if errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	return err
}

// Run runs the pipeline until ctx ends, paused or not as stored (it is a
// lifecycle.Component).
func (r *runner) Run(ctx context.Context) {
	ran := make(chan struct{})
	r.mu.Lock()
	r.running = ran
	r.mu.Unlock()
	defer close(ran)
	if r.prev != nil { // it ended: its counts are final
		r.st.carry(r.prev)
		r.prev = nil // Run comes again when the pipeline comes back to this node
	}
	r.st.set(func(*Status) { r.st.tally.loaded = false }) // another node may have counted since: read the totals again
	if r.onRun != nil {
		r.onRun(ctx)
	}
	if r.onEnd != nil {
		defer r.onEnd()
	}
	if raw, _, err := r.kv.Get(ctx, r.spec.Name); err == nil {
		var ps struct{ Paused bool }
		r.paused = json.Unmarshal(raw, &ps) == nil && ps.Paused
	}
	r.run(ctx)
}

// Close closes the pipeline's function and its outputs that hold
// resources, once it ended, and does what it was left to do (onClose).
func (r *runner) Close() error {
	close(r.done)
	if c, ok := r.spec.Function.(io.Closer); ok {
		_ = c.Close()
	}
	for _, o := range r.spec.To {
		if c, ok := o.(io.Closer); ok {
			_ = c.Close()
		}
	}
	if r.onClose == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return r.onClose(ctx)
}
