package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/stream"
)

// ErrNotFound is returned for a source that is not configured.
var ErrNotFound = errors.New("source not found")

// Manager runs the configured sources of a node. Pause state is kept in
// the engine's KV bucket "sources", so it survives restarts and is shared.
type Manager struct {
	svc     *stream.Service
	kv      engine.KV
	log     *slog.Logger
	runners map[string]*runner
	order   []string
	cancel  context.CancelFunc
	wg      sync.WaitGroup
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
	m := &Manager{svc: svc, kv: kv, log: log, runners: map[string]*runner{}}
	if reg != nil {
		reg.MustRegister(collector{m})
	}
	return m, nil
}

// Add configures a source; call before Start.
func (m *Manager) Add(s Spec) error {
	if !ValidName(s.Name) {
		return fmt.Errorf("source name %q: want [a-z0-9][a-z0-9_-]{0,63}", s.Name)
	}
	if _, dup := m.runners[s.Name]; dup {
		return fmt.Errorf("source %q configured twice", s.Name)
	}
	st := &Status{s: StatusView{Name: s.Name, Kind: s.Kind, To: s.To, State: Starting, StartedAt: time.Now().UTC()}}
	m.runners[s.Name] = &runner{spec: s, svc: m.svc, log: m.log, status: st, pause: make(chan bool, 1)}
	m.order = append(m.order, s.Name)
	sort.Strings(m.order)
	return nil
}

type pauseState struct {
	Paused bool      `json:"paused"`
	At     time.Time `json:"at"`
}

// Start runs every source until Stop.
func (m *Manager) Start(ctx context.Context) {
	ctx, m.cancel = context.WithCancel(ctx)
	for _, name := range m.order {
		r := m.runners[name]
		paused := false
		if raw, _, err := m.kv.Get(ctx, name); err == nil {
			var ps pauseState
			paused = json.Unmarshal(raw, &ps) == nil && ps.Paused
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			r.run(ctx, paused)
		}()
	}
}

// Stop ends every source and waits for them.
func (m *Manager) Stop() {
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
}

// List reports every source's status.
func (m *Manager) List() []StatusView {
	out := make([]StatusView, 0, len(m.order))
	for _, name := range m.order {
		out = append(out, m.runners[name].status.View())
	}
	return out
}

// Get reports one source's status.
func (m *Manager) Get(name string) (StatusView, error) {
	r, ok := m.runners[name]
	if !ok {
		return StatusView{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return r.status.View(), nil
}

// SetPaused pauses or resumes a source, here and after restarts.
func (m *Manager) SetPaused(ctx context.Context, name string, paused bool) (StatusView, error) {
	r, ok := m.runners[name]
	if !ok {
		return StatusView{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	m.pauseMu.Lock() // one change at a time: the stored and the running state agree
	defer m.pauseMu.Unlock()
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
	descLag        = prometheus.NewDesc("sluice_source_lag_seconds", "Now minus the event time of the last event a source stored.", []string{"source"}, nil)
	descState      = prometheus.NewDesc("sluice_source_state", "1 for the state a source is in.", []string{"source", "state"}, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descEvents
	ch <- descReconnects
	ch <- descLag
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
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, 1, v.Name, v.State)
	}
}
