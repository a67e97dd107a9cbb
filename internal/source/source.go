// Package source runs sources: each reads an external feed (a kind such as
// eventsource or file) and writes every event into a stream. The feed's
// position is stored in the same message as the event it belongs to, so
// the stream itself is the checkpoint: after any failure a source resumes
// exactly after the last event it stored. Events that fail the stream's
// schema go to the stream's dead-letter stream with their errors.
package source

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"time"
)

// Item is one event read from a feed, with the feed's position after it.
type Item struct {
	Data     []byte
	Position string
	// Err, if set, is an event the feed could not read (e.g. over the size
	// limit): it is counted and reported, never stored.
	Err error
}

// Feed reads an external feed. Run delivers items in feed order until ctx
// ends (nil error) or the feed is exhausted (ErrFinished), resuming after
// from.
type Feed interface {
	Run(ctx context.Context, from Resume, out chan<- Item, st *Status) error
}

// Resume is where a feed starts: after Position, the position of the last
// event handled (stored, dead-lettered or dropped); "" starts where the
// feed's config says. Last is that event's data when known: a feed whose
// positions are not exact (EventStreams' timestamp ids, shared by the
// events of one millisecond) resumes a little before Position and skips
// what it sends again up to the event whose data is Last.
type Resume struct {
	Position string
	Last     []byte
}

// ErrFinished ends a one-shot feed (a file import) that read everything.
var ErrFinished = fmt.Errorf("feed finished")

// DefaultDrop drops Wikimedia's monitoring events.
const DefaultDrop = `has(event.meta) && has(event.meta.domain) && event.meta.domain == "canary"`

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidName reports whether s can name a source ([a-z0-9][a-z0-9_-]{0,63}).
func ValidName(s string) bool { return nameRE.MatchString(s) }

// States a source is in.
const (
	Starting   = "starting"
	Connecting = "connecting"
	Streaming  = "streaming"
	BackingOff = "backing_off"
	Paused     = "paused"
	Finished   = "finished"
	Failed     = "failed"
	Stopped    = "stopped"
)

// Status is what a source reports; safe for concurrent use.
type Status struct {
	mu sync.Mutex
	s  StatusView
}

// StatusView is a snapshot of a source's status.
type StatusView struct {
	Name          string     `json:"name"`
	Kind          string     `json:"kind"`
	To            string     `json:"to"`
	State         string     `json:"state"`
	Node          string     `json:"node,omitempty"` // the node that runs it, among nodes sharing the engine
	Position      string     `json:"position,omitempty"`
	LastEventTime *time.Time `json:"last_event_time,omitempty"` // the newest event time stored
	// LastStoredTime is when the source last stored an event: a feed that
	// went quiet (or stalled) shows here, not in the lag.
	LastStoredTime *time.Time `json:"last_stored_time,omitempty"`
	// LagSeconds is how far behind its feed the source was at its last
	// store: when it stored its newest event minus that event's time.
	// Catching up after a pause or an outage, it shrinks to the feed's own
	// delay; it does not grow while the feed is quiet. A feed of recorded
	// events (a file import), whose event times say when things happened,
	// not how late they come, reports none.
	LagSeconds     *float64   `json:"lag_seconds,omitempty"`
	EventsIn       uint64     `json:"events_in"`
	Stored         uint64     `json:"stored"`
	Duplicates     uint64     `json:"duplicates"`
	Dropped        uint64     `json:"dropped"`
	DeadLettered   uint64     `json:"dead_lettered"`
	Unreadable     uint64     `json:"unreadable"`
	Reconnects     uint64     `json:"reconnects"`
	LastError      string     `json:"last_error,omitempty"`
	LastErrorTime  *time.Time `json:"last_error_time,omitempty"`
	RetryAt        *time.Time `json:"retry_at,omitempty"`
	Paused         bool       `json:"paused"`
	StartedAt      time.Time  `json:"started_at"`
	lastEventTimeT time.Time
	storedT        time.Time     // when the last batch was stored
	delay          time.Duration // storedT minus the newest event time then
	recorded       bool          // the feed replays recorded events: no lag
}

// Set changes the state.
func (s *Status) Set(state string) {
	s.mu.Lock()
	s.s.State = state
	if state != BackingOff {
		s.s.RetryAt = nil
	}
	s.mu.Unlock()
}

// BackOff records a wait before the next attempt.
func (s *Status) BackOff(until time.Time) {
	s.mu.Lock()
	s.s.State, s.s.RetryAt = BackingOff, &until
	s.mu.Unlock()
}

// Error records the last error.
func (s *Status) Error(err error) {
	now := time.Now().UTC()
	s.mu.Lock()
	s.s.LastError, s.s.LastErrorTime = err.Error(), &now
	s.mu.Unlock()
}

// Reconnected counts a reconnect.
func (s *Status) Reconnected() {
	s.mu.Lock()
	s.s.Reconnects++
	s.mu.Unlock()
}

func (s *Status) update(f func(v *StatusView)) {
	s.mu.Lock()
	f(&s.s)
	s.mu.Unlock()
}

// carry takes the counts and the last error of the status of the source
// this one replaces.
func (s *Status) carry(old StatusView) {
	s.update(func(v *StatusView) {
		v.EventsIn, v.Stored, v.Duplicates, v.Dropped = old.EventsIn, old.Stored, old.Duplicates, old.Dropped
		v.DeadLettered, v.Unreadable, v.Reconnects = old.DeadLettered, old.Unreadable, old.Reconnects
		v.LastError, v.LastErrorTime, v.Position, v.lastEventTimeT = old.LastError, old.LastErrorTime, old.Position, old.lastEventTimeT
		v.storedT, v.delay = old.storedT, old.delay
	})
}

// View returns a snapshot, with the lag computed now.
func (s *Status) View() StatusView {
	s.mu.Lock()
	v := s.s
	s.mu.Unlock()
	if !v.lastEventTimeT.IsZero() {
		t := v.lastEventTimeT
		v.LastEventTime = &t
	}
	if !v.storedT.IsZero() {
		t := v.storedT
		v.LastStoredTime = &t
		if !v.recorded && !v.lastEventTimeT.IsZero() {
			lag := max(v.delay.Seconds(), 0)
			v.LagSeconds = &lag
		}
	}
	return v
}

// Recorded is implemented by feeds of recorded events (a file import):
// their event times say when things happened, not how late the source
// is, so such a source reports no lag in time.
type Recorded interface{ Recorded() bool }
