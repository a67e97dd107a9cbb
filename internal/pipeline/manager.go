package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/lease"
	"github.com/sluice-dev/sluice/internal/lifecycle"
	"github.com/sluice-dev/sluice/internal/stream"
)

// ErrNotFound is returned for a pipeline that is not configured.
var ErrNotFound = errors.New("pipeline not found")

// Manager runs a node's pipelines and their long operations (redrive,
// rebuild); pipelines can be put (added, or put in place of the running
// one of the same name) and removed while it runs (change.go). Pause state,
// each pipeline's last operation and its totals (counts.go) live in the
// engine's KV bucket "pipelines"; positions live in the engine's durable
// consumers.
type Manager struct {
	svc     *stream.Service
	cons    engine.Consumers
	kv      engine.KV
	log     *slog.Logger
	runners *lifecycle.Group[*runner]
	cluster *lease.Cluster // nil: every pipeline runs here (cluster.go)
	started atomic.Bool
	pauseMu sync.Mutex
	ops     *operations
	// rebuildHook, if set, runs in a rebuild at its stages: "dropped"
	// (between dropping and creating the table, holding its gate) and
	// "created" (before reading the stream). Tests race the pipeline there.
	rebuildHook func(stage string)
}

// NewManager makes a manager; it registers its metrics on reg if not nil.
func NewManager(ctx context.Context, svc *stream.Service, log *slog.Logger, reg prometheus.Registerer) (*Manager, error) {
	cons, ok := svc.Engine().(engine.Consumers)
	if !ok {
		return nil, errors.New("pipelines need an engine with durable consumers")
	}
	kv, err := svc.Engine().KV(ctx, "pipelines")
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{svc: svc, cons: cons, kv: kv, log: log, runners: lifecycle.New[*runner](), ops: newOperations(ctx, kv, log)}
	if reg != nil {
		reg.MustRegister(collector{m})
	}
	return m, nil
}

// Add configures a pipeline, once (see Put).
func (m *Manager) Add(s Spec) error {
	if _, dup := m.runners.Get(s.Name); dup {
		return fmt.Errorf("pipeline %q configured twice", s.Name)
	}
	return m.Put(context.Background(), s, PutOptions{})
}

// Start runs every pipeline until Stop; pipelines put later start at once.
func (m *Manager) Start(ctx context.Context) {
	m.started.Store(true)
	m.runners.Start(ctx)
	for _, e := range m.runners.List() {
		if m.cluster == nil { // else when it runs (see Put)
			m.resume(ctx, m.ops.load(ctx, e.Name))
		}
	}
}

// resume starts over a rebuild that a stop or a crash interrupted: the
// table holds only part of its versions until a rebuild ends. A redrive
// is not started over (it is shown interrupted): what it did stays done,
// and running one again is the operator's choice.
func (m *Manager) resume(ctx context.Context, v *Operation) {
	if v == nil || v.Kind != KindRebuild || v.Table == "" {
		return
	}
	nv, err := m.startRebuild(v.Table, v.ID)
	if err != nil {
		m.log.Warn("interrupted rebuild not started over", "table", v.Table, "operation", v.ID, "err", err)
		return
	}
	m.log.Info("interrupted rebuild started over", "table", v.Table, "operation", nv.ID, "resumes", v.ID)
}

// Stop ends the operations and every pipeline, waits for them, and closes
// their functions (e.g. idle HTTP connections) and their outputs that hold
// resources (e.g. a database).
func (m *Manager) Stop() {
	m.ops.close()
	m.runners.Stop()
}

// List reports every pipeline, in name order.
func (m *Manager) List() []Status {
	list := m.runners.List()
	out := make([]Status, 0, len(list))
	for _, e := range list {
		s := e.Component.st.view()
		s.Operation = m.ops.of(e.Name)
		out = append(out, m.placed(e, s))
	}
	return out
}

func (m *Manager) runner(name string) (*runner, error) {
	e, ok := m.runners.Get(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return e.Component, nil
}

// Get reports one pipeline.
func (m *Manager) Get(name string) (Status, error) {
	e, ok := m.runners.Get(name)
	if !ok {
		return Status{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	s := e.Component.st.view()
	s.Operation = m.ops.of(name)
	return m.placed(e, s), nil
}

// do runs f in the pipeline's own goroutine, between two batches, with the
// pipeline's runner: if the pipeline is put anew meanwhile, the new one runs f.
func (m *Manager) do(ctx context.Context, name string, f func(ctx context.Context, r *runner) error) error {
	for {
		e, err := m.standby(ctx, name)
		if err != nil {
			return err
		}
		r := e.Component
		done := make(chan error, 1)
		select {
		case r.control <- func(ctx context.Context) error { err := f(ctx, r); done <- err; return err }:
		case <-r.ran():
			continue // its run ended (its unit went to another node): ask again
		case <-r.done:
			if cur, err := m.runner(name); err == nil && cur == r {
				return fmt.Errorf("pipeline %q: %w", name, ErrStopping)
			}
			continue // replaced: ask the one in its place
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// SetPaused pauses or resumes a pipeline, here and after restarts.
func (m *Manager) SetPaused(ctx context.Context, name string, paused bool) (Status, error) {
	if _, err := m.runner(name); err != nil {
		return Status{}, err
	}
	m.pauseMu.Lock() // one change at a time: the stored and the running state agree
	defer m.pauseMu.Unlock()
	raw, _ := json.Marshal(map[string]any{"paused": paused, "at": time.Now().UTC()})
	if err := engine.Put(ctx, m.kv, name, raw); err != nil {
		return Status{}, err
	}
	// A runner put in place of this one meanwhile reads the state just
	// stored when it starts, or is the one do reaches.
	err := m.do(ctx, name, func(_ context.Context, r *runner) error {
		r.paused = paused
		r.st.set(func(s *Status) {
			s.Paused = paused
			if paused {
				s.State = Paused
			}
		})
		return nil
	})
	if err != nil {
		return Status{}, err
	}
	return m.Get(name)
}

// Reset moves a pipeline to a position: it processes again from there
// (a backfill) without deleting outputs; outputs it wrote before are not
// written twice.
func (m *Manager) Reset(ctx context.Context, name string, to event.Position) (Status, error) {
	err := m.do(ctx, name, func(ctx context.Context, r *runner) error {
		seq, err := m.svc.Resolve(ctx, r.spec.From, to)
		if err != nil {
			return err
		}
		if err := m.cons.DeleteConsumer(ctx, r.spec.From, consumerName(name)); err != nil {
			return err
		}
		_, err = m.cons.EnsureConsumer(ctx, engine.ConsumerConfig{Stream: r.spec.From, Name: consumerName(name),
			StartSeq: seq, MaxAckPending: r.spec.MaxInFlight, AckWait: ackWait})
		m.log.Info("pipeline reset", "pipeline", name, "to", to.String(), "seq", seq)
		return err
	})
	if err != nil {
		return Status{}, err
	}
	return m.Get(name)
}

// Invoke runs the pipeline's step on events (where, function, output
// checks) and writes nothing: one result per event, in order, filtered
// set where `where` left it out. An output the outputs would refuse is
// its event's error, as the pipeline would dead-letter it (the outputs
// are kept beside it). A function unavailable now is in the results (see
// function.Unavailable), not an error.
func (m *Manager) Invoke(ctx context.Context, name string, events []json.RawMessage) ([]function.Result, []bool, error) {
	r, err := m.runner(name)
	if err != nil {
		return nil, nil, err
	}
	step, err := r.step(ctx)
	if err != nil {
		return nil, nil, err
	}
	outcomes, err := step.Run(ctx, events)
	if err != nil && !errors.Is(err, function.ErrUnavailable) {
		return nil, nil, err
	}
	results := make([]function.Result, len(events))
	filtered := make([]bool, len(events))
	for i, o := range outcomes {
		results[i], filtered[i] = function.Result{Outputs: o.Outputs, Err: o.Err}, o.Skipped
	}
	return results, filtered, nil
}

// collector exposes the pipelines' status as Prometheus metrics.
type collector struct{ m *Manager }

var (
	descInputs = prometheus.NewDesc("sluice_pipeline_inputs_total", "Inputs a pipeline handled, by outcome.", []string{"pipeline", "outcome"}, nil)
	descOuts   = prometheus.NewDesc("sluice_pipeline_outputs_total", "Output events a pipeline wrote.", []string{"pipeline"}, nil)
	descLagN   = prometheus.NewDesc("sluice_pipeline_lag_events", "Inputs not yet done.", []string{"pipeline"}, nil)
	descLagT   = prometheus.NewDesc("sluice_pipeline_lag_seconds", "How long the oldest input not yet done has waited: now minus when it was stored in the input stream; 0 when none waits.", []string{"pipeline"}, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descInputs
	ch <- descOuts
	ch <- descLagN
	ch <- descLagT
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.m.List() {
		for outcome, n := range map[string]uint64{"processed": s.Processed, "filtered": s.Filtered, "failed": s.Failed} {
			ch <- prometheus.MustNewConstMetric(descInputs, prometheus.CounterValue, float64(n), s.Name, outcome)
		}
		ch <- prometheus.MustNewConstMetric(descOuts, prometheus.CounterValue, float64(s.Outputs), s.Name)
		ch <- prometheus.MustNewConstMetric(descLagN, prometheus.GaugeValue, float64(s.LagEvents), s.Name)
		if s.LagSeconds != nil {
			ch <- prometheus.MustNewConstMetric(descLagT, prometheus.GaugeValue, *s.LagSeconds, s.Name)
		}
	}
}
