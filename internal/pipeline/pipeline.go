// Package pipeline runs pipelines: each is a durable JetStream consumer of
// one stream that filters events (CEL `where`), calls a function on
// batches, and writes the outputs; an input is acknowledged only after
// every output stored its results (at-least-once delivery), and outputs
// carry ids derived from the input, so a redelivery adds nothing.
// An event whose function call fails goes to "<pipeline>.errors" with the
// whole error; the pipeline never stops for one bad event, nor for a
// message that is not an event at all (published straight to NATS).
//
// Long operations on a pipeline's outputs (a redrive of its dead letters,
// a rebuild of a table it writes) run beside it, one at a time, followed
// by id (operation.go); pause, resume and reset run in the pipeline's own
// goroutine, between two batches.
//
// Pipelines can be added, put in place of a running one (which goes on from
// its consumer) and removed while the node runs (change.go); the manager
// runs them on the lifecycle package.
package pipeline

import (
	"context"
	"encoding/json"
	"regexp"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/filter"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/schema"
)

// Spec is a configured pipeline.
type Spec struct {
	Name  string
	From  string         // input stream
	Start event.Position // where a new pipeline starts
	Where *filter.Filter // nil: every event
	// FunctionName and FunctionConfig are kept for status and invoke.
	FunctionName   string
	FunctionConfig map[string]any
	Function       function.Function
	To             []Output
	// MaxInFlight bounds events between input and outputs (default 1000).
	MaxInFlight int
}

// DefaultMaxInFlight is the bound on events in flight.
const DefaultMaxInFlight = 1000

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidName reports whether s can name a pipeline.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// ErrorsSuffix names a pipeline's dead-letter stream: "<pipeline>.errors".
const ErrorsSuffix = ".errors"

// Out is one output event, with the id and position derived from its input.
type Out struct {
	Data     json.RawMessage
	ID       string // deterministic: pipeline, input id, output index
	Position string // "<input seq>:<output index>", zero-padded so positions sort
	// Redrive marks an output of a redriven dead letter: written whatever
	// the pipeline's position, without moving it.
	Redrive bool
	// Stored marks an output the stream output had stored before (a
	// redelivery, or a reset to an earlier position): set by the stream
	// output for the outputs written after it.
	Stored bool
}

// Output stores output events. Write must be idempotent: writing the same
// Out twice stores it once. invalid maps an index of outs to why the
// output refused it (a function bug: it goes to the dead letters).
type Output interface {
	Name() string
	Write(ctx context.Context, outs []Out) (invalid map[int][]schema.Violation, err error)
}

// States a pipeline is in.
const (
	Starting = "starting"
	Running  = "running"
	Paused   = "paused"
	Failing  = "failing" // retrying a failure of its own (e.g. an output down)
	Stopped  = "stopped"
)

// Status is what a pipeline reports.
type Status struct {
	Name      string   `json:"name"`
	From      string   `json:"from"`
	Function  string   `json:"function"`
	To        []string `json:"to"`
	State     string   `json:"state"`
	Node      string   `json:"node,omitempty"` // the node that runs it, among nodes sharing the engine
	Paused    bool     `json:"paused"`
	Position  uint64   `json:"position"`   // every input up to this sequence is done
	LagEvents uint64   `json:"lag_events"` // inputs not yet done
	// LagSeconds is how long the oldest input not yet done has waited: now
	// minus when it was stored in the input stream (not its event time, so
	// replayed old events do not read as years behind); 0 when no input is
	// waiting; null until the pipeline first read its consumer's state.
	LagSeconds *float64 `json:"lag_seconds"`
	Rate       float64  `json:"rate"`      // inputs per second over the last minute
	Processed  uint64   `json:"processed"` // inputs the function handled without error
	Filtered   uint64   `json:"filtered"`  // inputs `where` left out
	Failed     uint64   `json:"failed"`    // inputs sent to the dead letters
	Outputs    uint64   `json:"outputs"`   // output events written
	// CountedSince is when the totals above began: they are kept in the
	// engine across restarts and nodes (stored at most a second apart, so
	// a crash may lose up to the last second of counts, never doubles them).
	CountedSince  *time.Time `json:"counted_since,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	LastErrorTime *time.Time `json:"last_error_time,omitempty"`
	LastEventTime *time.Time `json:"last_event_time,omitempty"` // the event time of the last input done
	// Operation is the pipeline's running or last long operation (a
	// redrive, or a rebuild of a table it writes); nil if none.
	Operation *Operation `json:"operation,omitempty"`
}

// status is a pipeline's live status with a per-second rate window.
type status struct {
	mu     sync.Mutex
	s      Status
	window [60]uint64 // inputs done, per second, ring
	second int64
	// waiting: whether the lag in time is known, and since when the oldest
	// input not yet done is stored (zero: none waits).
	lagKnown bool
	oldest   time.Time
	tally    tally // the totals (counts.go)
}

// done counts inputs and outputs a batch finished.
func (st *status) done(d counts) {
	st.mu.Lock()
	st.tally.delta.add(d, 1)
	st.mu.Unlock()
}

// consumer records where the consumer is, and when the oldest input not
// yet done was stored (zero: none waits; known false: not known now).
func (st *status) consumer(c engine.ConsumerState, oldest time.Time, known bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.Position, st.s.LagEvents = c.AckFloor, c.Pending+c.InFlight
	if known {
		st.lagKnown, st.oldest = true, oldest
	}
}

func (st *status) set(f func(s *Status)) {
	st.mu.Lock()
	f(&st.s)
	st.mu.Unlock()
}

func (st *status) count(n uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.advance(time.Now().Unix())
	st.window[st.second%60] += n
}

func (st *status) advance(now int64) {
	if st.second == 0 {
		st.second = now
	}
	for ; st.second < now; st.second++ {
		st.window[(st.second+1)%60] = 0
	}
}

// carry takes the counts not yet stored, the rate and the last error of
// the status of the pipeline this one replaces (which ended), and its
// position if it read the same stream.
func (st *status) carry(old *status) {
	old.mu.Lock()
	defer old.mu.Unlock()
	o, window, second := old.s, old.window, old.second
	st.mu.Lock()
	defer st.mu.Unlock()
	s := &st.s
	// What it did not store goes on here (it stored the rest when it ended).
	st.tally.delta.add(old.tally.delta, 1)
	st.tally.stored, st.tally.pending = old.tally.stored, old.tally.pending
	st.tally.tag, st.tally.writes = old.tally.tag, old.tally.writes
	s.LastError, s.LastErrorTime, s.LastEventTime = o.LastError, o.LastErrorTime, o.LastEventTime
	if o.From == s.From {
		s.Position, s.LagEvents = o.Position, o.LagEvents
	}
	st.window, st.second = window, second
}

func (st *status) view() Status {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.advance(time.Now().Unix())
	var sum uint64
	for _, n := range st.window {
		sum += n
	}
	v := st.s
	v.Rate = float64(sum) / 60
	total := st.tally.stored
	total.add(st.tally.delta, 1)
	v.Processed, v.Filtered, v.Failed, v.Outputs = total.Processed, total.Filtered, total.Failed, total.Outputs
	if st.tally.loaded || !total.Since.IsZero() {
		since := total.Since
		v.CountedSince = &since
	}
	if st.lagKnown {
		var lag float64
		if !st.oldest.IsZero() {
			lag = max(time.Since(st.oldest).Seconds(), 0)
		}
		v.LagSeconds = &lag
	}
	return v
}
