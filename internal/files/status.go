package files

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-dev/sluice/internal/lease"
	"github.com/sluice-dev/sluice/internal/lifecycle"
)

// States a sink is in.
const (
	Starting = "starting"
	Running  = "running"
	Failing  = "failing" // retrying (e.g. the storage unreachable); nothing is skipped
	Stopped  = "stopped"
)

// Status is what a sink reports.
type Status struct {
	Pipeline string `json:"pipeline"`
	Stream   string `json:"stream"` // the stream it reads
	URL      string `json:"url"`    // without its query (but for prefix)
	Format   string `json:"format"`
	State    string `json:"state"`
	Node     string `json:"node,omitempty"` // the node that runs it, among nodes sharing the engine
	// Position: every event up to this sequence is in a committed object
	// (or is not the pipeline's). LagEvents are the events after it: those
	// not read yet (UnreadEvents) and those read and not yet in a
	// committed object, most of them held in the open object (HeldEvents).
	Position     uint64 `json:"position"`
	LagEvents    uint64 `json:"lag_events"`
	UnreadEvents uint64 `json:"unread_events"`
	HeldEvents   uint64 `json:"held_events"`
	// Waiting says why the held events wait, while an object is open:
	// "rolls every 5m0s, at 64MiB or 100000 events; next roll by 12:05:00 UTC".
	Waiting  string     `json:"waiting,omitempty"`
	NextRoll *time.Time `json:"next_roll,omitempty"` // when the open object is written at the latest (its first event's arrival plus max_age)
	// Roll is the rule objects roll by: "every 5m0s, at 64MiB or 100000 events".
	Roll string `json:"roll"`
	// Counts since the process started.
	Objects uint64 `json:"objects"`
	Events  uint64 `json:"events"`
	Bytes   uint64 `json:"bytes"`   // as stored (compressed, encoded)
	Skipped uint64 `json:"skipped"` // objects found already committed (a replay after a crash)
	// Foreign counts messages passed over that are not events sluice
	// stored (published straight into the stream's NATS subject).
	Foreign uint64 `json:"foreign"`
	Errors  uint64 `json:"errors"`
	// The last object committed (its key under the URL's prefix), and the last sequence it holds.
	LastObject     string     `json:"last_object,omitempty"`
	LastCommitted  uint64     `json:"last_committed_seq"`
	LastCommitTime *time.Time `json:"last_commit_time,omitempty"`
	Open           *Open      `json:"open,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	LastErrorTime  *time.Time `json:"last_error_time,omitempty"`
}

// Open is the object being gathered, not yet written.
type Open struct {
	Partition string    `json:"partition"`
	First     uint64    `json:"first_seq"`
	Last      uint64    `json:"last_seq"`
	Events    int       `json:"events"`
	Bytes     int64     `json:"bytes"` // as NDJSON
	Since     time.Time `json:"since"`
}

type status struct {
	mu     sync.Mutex
	s      Status
	open   span          // the object being gathered, if open.first > 0
	maxAge time.Duration // the roll's, for NextRoll
}

// rollRule is how objects roll under cfg, in words.
func rollRule(cfg Config) string {
	return fmt.Sprintf("every %s, at %s or %d events", cfg.MaxAge, sizeText(cfg.MaxBytes), cfg.MaxEvents)
}

// sizeText is n bytes in the largest binary unit that divides it.
func sizeText(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%dB", n)
}

// clockText is t for a person: the time of day if within a day of now,
// else the date too; in UTC.
func clockText(t, now time.Time) string {
	if d := t.Sub(now); d < 24*time.Hour && d > -24*time.Hour {
		return t.UTC().Format("15:04:05 UTC")
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// gathering records the object being gathered (nil: none).
func (st *status) gathering(sp *span) {
	st.mu.Lock()
	if sp == nil {
		st.open = span{}
	} else {
		st.open = *sp
	}
	st.mu.Unlock()
}

func (st *status) set(f func(s *Status)) {
	st.mu.Lock()
	f(&st.s)
	st.mu.Unlock()
}

func (st *status) fail(err error) {
	now := time.Now().UTC()
	st.set(func(s *Status) {
		s.State, s.LastError, s.LastErrorTime, s.Errors = Failing, err.Error(), &now, s.Errors+1
	})
}

func (st *status) view() Status {
	st.mu.Lock()
	defer st.mu.Unlock()
	v := st.s
	if sp := st.open; sp.first > 0 {
		v.Open = &Open{Partition: sp.partition, First: sp.first, Last: sp.last, Events: sp.events, Bytes: sp.bytes, Since: sp.opened.UTC()}
		next := sp.opened.Add(st.maxAge).UTC()
		v.HeldEvents, v.NextRoll = uint64(sp.events), &next
		v.Waiting = fmt.Sprintf("rolls %s; next roll by %s", v.Roll, clockText(next, time.Now()))
	}
	return v
}

// Group runs a node's sinks, each named by its durable consumer (see
// Sink.Name); sinks can be put and removed while it runs.
type Group struct {
	sinks   *lifecycle.Group[*Sink]
	cluster *lease.Cluster // nil: every sink runs here (cluster.go)
}

// ErrNotFound is returned for a sink a group does not have.
var ErrNotFound = errors.New("files output not found")

// NewGroup makes a group; it registers the sinks' metrics on reg if not nil.
func NewGroup(reg prometheus.Registerer) *Group {
	g := &Group{sinks: lifecycle.New[*Sink]()}
	if reg != nil {
		reg.MustRegister(collector{g})
	}
	return g
}

// Add adds a sink, or puts it in place of the one of the same name.
func (g *Group) Add(s *Sink) { _ = g.Put(context.Background(), s) }

// Put runs a sink (at once if the group runs), or puts it in place of the
// one of the same name: that one is stopped and closed first (an object
// it was gathering is not written: the new one reads its events again, from
// the same consumer; if it read another stream, its consumer there is
// deleted). ctx bounds the wait for another change to end.
func (g *Group) Put(ctx context.Context, s *Sink) error {
	return g.sinks.Put(ctx, s.name, s, func(old *Sink) error {
		old.forget = old.opts.Stream != s.opts.Stream
		return nil
	})
}

// Remove stops a sink, closes its storage and deletes its durable
// consumer; the objects it wrote stay. ErrNotFound if there is none.
func (g *Group) Remove(ctx context.Context, name string) error {
	err := g.sinks.Remove(ctx, name, func(old *Sink) error {
		old.forget = true
		return nil
	})
	if errors.Is(err, lifecycle.ErrNotFound) {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return err
}

// RemovePipeline removes every sink of a pipeline (see Remove).
func (g *Group) RemovePipeline(ctx context.Context, pipeline string) error {
	var errs []error
	for _, name := range g.Names(pipeline) {
		if err := g.Remove(ctx, name); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Names returns the names of a pipeline's sinks, in order.
func (g *Group) Names(pipeline string) []string {
	var out []string
	for _, e := range g.sinks.List() {
		if e.Component.opts.Pipeline == pipeline {
			out = append(out, e.Name)
		}
	}
	return out
}

// Units are the names of every sink, in order.
func (g *Group) Units() []string {
	var out []string
	for _, e := range g.sinks.List() {
		out = append(out, e.Name)
	}
	return out
}

// Start runs every sink until Stop.
func (g *Group) Start(ctx context.Context) { g.sinks.Start(ctx) }

// Stop ends every sink (an object being gathered is not written: its
// events come again at the next start), waits, and closes the storage.
func (g *Group) Stop() { g.sinks.Stop() }

// List reports every sink, in name order.
func (g *Group) List() []Status {
	list := g.sinks.List()
	out := make([]Status, 0, len(list))
	for _, e := range list {
		out = append(out, g.placed(e, e.Component.Status()))
	}
	return out
}

// collector exposes the sinks' status as Prometheus metrics.
type collector struct{ g *Group }

var (
	labels     = []string{"pipeline", "url"}
	descObj    = prometheus.NewDesc("sluice_files_objects_total", "Objects a files output committed.", labels, nil)
	descEvents = prometheus.NewDesc("sluice_files_events_total", "Events written to committed objects.", labels, nil)
	descBytes  = prometheus.NewDesc("sluice_files_bytes_total", "Bytes of committed objects, as stored.", labels, nil)
	descSkip   = prometheus.NewDesc("sluice_files_skipped_objects_total", "Objects found already committed when replaying after a crash.", labels, nil)
	descErrs   = prometheus.NewDesc("sluice_files_errors_total", "Failures to read, write or acknowledge (each retried).", labels, nil)
	descLast   = prometheus.NewDesc("sluice_files_last_committed_seq", "The last stream sequence in a committed object.", labels, nil)
	descLag    = prometheus.NewDesc("sluice_files_lag_events", "Events of the stream not yet in a committed object.", labels, nil)
	descHeld   = prometheus.NewDesc("sluice_files_held_events", "Events gathered in the open object, waiting for it to roll.", labels, nil)
	descUnread = prometheus.NewDesc("sluice_files_unread_events", "Events of the stream a files output has not read yet.", labels, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descObj, descEvents, descBytes, descSkip, descErrs, descLast, descLag, descHeld, descUnread} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.g.List() {
		for d, v := range map[*prometheus.Desc]uint64{descObj: s.Objects, descEvents: s.Events, descBytes: s.Bytes, descSkip: s.Skipped, descErrs: s.Errors} {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), s.Pipeline, s.URL)
		}
		ch <- prometheus.MustNewConstMetric(descLast, prometheus.GaugeValue, float64(s.LastCommitted), s.Pipeline, s.URL)
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(s.LagEvents), s.Pipeline, s.URL)
		ch <- prometheus.MustNewConstMetric(descHeld, prometheus.GaugeValue, float64(s.HeldEvents), s.Pipeline, s.URL)
		ch <- prometheus.MustNewConstMetric(descUnread, prometheus.GaugeValue, float64(s.UnreadEvents), s.Pipeline, s.URL)
	}
}
