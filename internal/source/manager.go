package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/lease"
	"github.com/sluice-dev/sluice/internal/lifecycle"
	"github.com/sluice-dev/sluice/internal/stream"
)

// ErrNotFound is returned for a source that is not configured.
var ErrNotFound = errors.New("source not found")

// Manager runs the sources of a node; they can be put (added, or put in
// place of the one of the same name) and removed while it runs. Pause state
// is kept in the engine's KV bucket "sources", so it survives restarts and
// is shared.
type Manager struct {
	svc     *stream.Service
	kv      engine.KV
	log     *slog.Logger
	runners *lifecycle.Group[*runner]
	cluster *lease.Cluster // nil: every source runs here (cluster.go)
	pauseMu sync.Mutex
}

// NewManager makes a manager; it registers its metrics on reg if not nil.
func NewManager(ctx context.Context, svc *stream.Service, log *slog.Logger, reg prometheus.Registerer) (*Manager, error) {
	kv, err := svc.Engine().KV(ctx, "sources")
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{svc: svc, kv: kv, log: log, runners: lifecycle.New[*runner]()}
	if reg != nil {
		reg.MustRegister(collector{m})
	}
	return m, nil
}

// Add configures a source, once.
func (m *Manager) Add(s Spec) error {
	if _, dup := m.runners.Get(s.Name); dup {
		return fmt.Errorf("source %q configured twice", s.Name)
	}
	return m.Put(context.Background(), s)
}

// Put runs a source (at once if the manager is started), or puts it in
// place of the running one of the same name: that one is stopped first,
// and the new one resumes after the last event the old one stored, as
// after a restart (the stream is the checkpoint). A paused source stays
// paused; the counts go on from the old one's. ctx bounds the wait for another change to end.
func (m *Manager) Put(ctx context.Context, s Spec) error {
	if !ValidName(s.Name) {
		return fmt.Errorf("source name %q: want [a-z0-9][a-z0-9_-]{0,63}", s.Name)
	}
	st := &Status{s: StatusView{Name: s.Name, Kind: s.Kind, To: s.To, State: Starting, StartedAt: time.Now().UTC()}}
	if rec, ok := s.Feed.(Recorded); ok {
		st.s.recorded = rec.Recorded()
	}
	r := &runner{spec: s, svc: m.svc, log: m.log, status: st, pause: make(chan bool, 1), m: m}
	return m.runners.Put(ctx, s.Name, r, func(old *runner) error {
		r.prev = old.status
		return nil
	})
}

// Remove stops a source and deletes its pause state; the events it stored
// stay. ErrNotFound if there is none.
func (m *Manager) Remove(ctx context.Context, name string) error {
	err := m.runners.Remove(ctx, name, func(old *runner) error {
		old.forget = true
		return nil
	})
	if errors.Is(err, lifecycle.ErrNotFound) {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return err
}

type pauseState struct {
	Paused bool      `json:"paused"`
	At     time.Time `json:"at"`
}

// paused reads a source's stored pause state. It holds pauseMu, so that a
// source that starts while SetPaused runs sees its change: either here, or
// on its pause channel (SetPaused finds the runner under pauseMu too).
func (m *Manager) paused(ctx context.Context, name string) bool {
	m.pauseMu.Lock()
	defer m.pauseMu.Unlock()
	raw, _, err := m.kv.Get(ctx, name)
	if err != nil {
		return false
	}
	var ps pauseState
	return json.Unmarshal(raw, &ps) == nil && ps.Paused
}

// Start runs every source until Stop.
func (m *Manager) Start(ctx context.Context) { m.runners.Start(ctx) }

// Stop ends every source and waits for them.
func (m *Manager) Stop() { m.runners.Stop() }

// List reports every source's status, in name order.
func (m *Manager) List() []StatusView {
	list := m.runners.List()
	out := make([]StatusView, 0, len(list))
	for _, e := range list {
		out = append(out, m.placed(e, e.Component.status.View()))
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

// Get reports one source's status.
func (m *Manager) Get(name string) (StatusView, error) {
	e, ok := m.runners.Get(name)
	if !ok {
		return StatusView{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return m.placed(e, e.Component.status.View()), nil
}

// SetPaused pauses or resumes a source, here and after restarts.
func (m *Manager) SetPaused(ctx context.Context, name string, paused bool) (StatusView, error) {
	m.pauseMu.Lock() // one change at a time: the stored and the running state agree
	defer m.pauseMu.Unlock()
	e, err := m.standby(ctx, name)
	if err != nil {
		return StatusView{}, err // another node runs it: that node changes it, so that it sees the change
	}
	r := e.Component
	raw, _ := json.Marshal(pauseState{Paused: paused, At: time.Now().UTC()})
	if err := engine.Put(ctx, m.kv, name, raw); err != nil {
		return StatusView{}, err
	}
	select { // the newest wish wins; the buffer of one never blocks under pauseMu
	case <-r.pause:
	default:
	}
	select {
	case r.pause <- paused:
	case <-ctx.Done():
		return StatusView{}, ctx.Err()
	}
	r.status.update(func(v *StatusView) { v.Paused = paused })
	m.log.Info("source paused state changed", "source", name, "paused", paused)
	return r.status.View(), nil
}

// collector exposes the sources' status as Prometheus metrics.
type collector struct{ m *Manager }

var (
	descEvents     = prometheus.NewDesc("sluice_source_events_total", "Events read by a source, by outcome.", []string{"source", "outcome"}, nil)
	descReconnects = prometheus.NewDesc("sluice_source_reconnects_total", "Reconnects of a source's feed.", []string{"source"}, nil)
	descLag        = prometheus.NewDesc("sluice_source_lag_seconds", "How far behind its feed a source was at its last store: when it stored its newest event minus that event's time (none for a file import).", []string{"source"}, nil)
	descLastStored = prometheus.NewDesc("sluice_source_last_stored_timestamp_seconds", "When a source last stored an event (Unix time): time() minus it tells a quiet or stalled feed.", []string{"source"}, nil)
	descState      = prometheus.NewDesc("sluice_source_state", "1 for the state a source is in.", []string{"source", "state"}, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descEvents
	ch <- descReconnects
	ch <- descLag
	ch <- descLastStored
	ch <- descState
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, v := range c.m.List() {
		for outcome, n := range map[string]uint64{"in": v.EventsIn, "stored": v.Stored, "duplicate": v.Duplicates,
			"dropped": v.Dropped, "dead_lettered": v.DeadLettered, "unreadable": v.Unreadable} {
			ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(n), v.Name, outcome)
		}
		ch <- prometheus.MustNewConstMetric(descReconnects, prometheus.CounterValue, float64(v.Reconnects), v.Name)
		if v.LagSeconds != nil {
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, *v.LagSeconds, v.Name)
		}
		if v.LastStoredTime != nil {
			ch <- prometheus.MustNewConstMetric(descLastStored, prometheus.GaugeValue, float64(v.LastStoredTime.UnixNano())/1e9, v.Name)
		}
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, 1, v.Name, v.State)
	}
}
