package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
)

// Range is what to read: [From, Until), following new events if Follow.
type Range struct {
	From   event.Position
	Until  *event.Position // nil: no end
	Follow bool            // wait for new events instead of ending at the current last one
}

// Cursor reads a range of a stream in order.
type Cursor struct {
	svc       *Service
	name      string
	rd        engine.Reader
	start     uint64    // first sequence of the range
	next      uint64    // the sequence expected next
	end       uint64    // exclusive end sequence; 0: none
	untilTime time.Time // end at the first event whose running max of event time reaches it; zero: none
	follow    bool
	done      bool
}

// Open starts reading a stream.
func (s *Service) Open(ctx context.Context, name string, r Range) (*Cursor, error) {
	if _, err := s.Get(ctx, name); err != nil {
		return nil, err
	}
	st, err := s.eng.State(ctx, name)
	if err != nil {
		return nil, err
	}
	c := &Cursor{svc: s, name: name, follow: r.Follow}
	if c.start, err = s.resolve(ctx, name, st, r.From); err != nil {
		return nil, err
	}
	if r.Until != nil {
		switch r.Until.Kind {
		case event.Time:
			c.untilTime = r.Until.Time
		default:
			if c.end, err = s.resolve(ctx, name, st, *r.Until); err != nil {
				return nil, err
			}
			c.end = max(c.end, 1)
		}
	}
	if !r.Follow && (c.end == 0 || c.end > st.LastSeq+1) {
		c.end = st.LastSeq + 1
	}
	c.next = c.start
	if c.end != 0 && c.start >= c.end {
		c.done = true
		return c, nil
	}
	if c.rd, err = s.eng.Read(ctx, name, c.start); err != nil {
		return nil, err
	}
	if r.Follow {
		s.metrics.Subscribers.WithLabelValues(name).Inc()
	}
	return c, nil
}

// Done reports whether the range is over: nothing more will come.
func (c *Cursor) Done() bool { return c.done }

// Start is the first sequence of the range: where a reader that got
// nothing should ask again.
func (c *Cursor) Start() uint64 { return c.start }

// Resolve turns a position into the first sequence at or after it.
func (s *Service) Resolve(ctx context.Context, name string, p event.Position) (uint64, error) {
	st, err := s.eng.State(ctx, name)
	if err != nil {
		return 0, err
	}
	return s.resolve(ctx, name, st, p)
}

// resolve turns a position into the first sequence at or after it.
func (s *Service) resolve(ctx context.Context, name string, st engine.StreamState, p event.Position) (uint64, error) {
	switch p.Kind {
	case event.Earliest:
		if st.Messages == 0 {
			return st.LastSeq + 1, nil
		}
		return st.FirstSeq, nil
	case event.Latest:
		return st.LastSeq + 1, nil
	case event.Sequence:
		return p.Seq, nil
	default:
		return s.seekTime(ctx, name, st, p.Time)
	}
}

// seekTime finds the first event at which the running maximum of event
// time reaches t: O(log n) reads, whatever the stream's length.
func (s *Service) seekTime(ctx context.Context, name string, st engine.StreamState, t time.Time) (uint64, error) {
	target := t.UnixNano()
	seq, err := s.firstWhere(ctx, name, st, func(m engine.Stored) (bool, error) {
		mk, err := strconv.ParseInt(m.Header[hdrMark], 10, 64)
		if err != nil {
			return false, fmt.Errorf("event %d has no time mark", m.Seq)
		}
		return mk >= target, nil
	})
	if err != nil {
		return 0, fmt.Errorf("seek %q to %s: %w", name, t.Format(time.RFC3339Nano), err)
	}
	return seq, nil
}

// firstWhere finds the first sequence whose message satisfies ok, a
// predicate that is false and then true along the stream (LastSeq+1 when
// none does), by binary search with direct gets.
func (s *Service) firstWhere(ctx context.Context, name string, st engine.StreamState, ok func(engine.Stored) (bool, error)) (uint64, error) {
	if st.Messages == 0 {
		return st.LastSeq + 1, nil
	}
	lo, hi := st.FirstSeq, st.LastSeq+1 // answer in [lo, hi]; hi means "after the last"
	for lo < hi {
		mid := lo + (hi-lo)/2
		m, err := s.eng.Get(ctx, name, mid)
		if errors.Is(err, engine.ErrNotFound) {
			hi = mid // nothing at or after mid (trimmed meanwhile)
			continue
		}
		if err != nil {
			return 0, err
		}
		yes, err := ok(m)
		if err != nil {
			return 0, err
		}
		if yes {
			hi = mid
		} else {
			lo = m.Seq + 1
		}
	}
	return lo, nil
}

// idleCheck is how long a non-following cursor waits before checking
// whether the events it expects were deleted meanwhile.
const idleCheck = 2 * time.Second

// Next returns the next event, or io.EOF at the end of the range.
func (c *Cursor) Next(ctx context.Context) (event.Event, error) {
	if c.done {
		return event.Event{}, io.EOF
	}
	for {
		wait := ctx
		var cancel context.CancelFunc = func() {}
		if !c.follow {
			wait, cancel = context.WithTimeout(ctx, idleCheck)
		}
		m, err := c.rd.Next(wait)
		cancel()
		if err != nil {
			if ctx.Err() == nil && !c.follow && errors.Is(err, context.DeadlineExceeded) {
				// Nothing came: maybe the rest of the range was deleted
				// (trimmed by retention, or single messages removed).
				m, gerr := c.svc.eng.Get(ctx, c.name, c.next)
				if errors.Is(gerr, engine.ErrNotFound) || gerr == nil && m.Seq >= c.end {
					c.finish()
					return event.Event{}, io.EOF
				}
				continue
			}
			return event.Event{}, err
		}
		if c.end != 0 && m.Seq >= c.end {
			c.finish()
			return event.Event{}, io.EOF
		}
		if !c.untilTime.IsZero() {
			if mk, _ := strconv.ParseInt(m.Header[hdrMark], 10, 64); mk >= c.untilTime.UnixNano() {
				c.finish()
				return event.Event{}, io.EOF
			}
		}
		c.next = m.Seq + 1
		if c.end != 0 && m.Seq+1 >= c.end {
			c.finish() // the last one of the range: do not wait for another
		}
		return toEvent(m), nil
	}
}

func (c *Cursor) finish() {
	c.done = true
	c.Close()
}

// Close stops the cursor; it is safe to call more than once.
func (c *Cursor) Close() {
	if c.rd != nil {
		c.rd.Close()
		c.rd = nil
		if c.follow {
			c.svc.metrics.Subscribers.WithLabelValues(c.name).Dec()
		}
	}
}

func toEvent(m engine.Stored) event.Event {
	e := event.Event{Seq: m.Seq, ID: m.Header[hdrID], Key: m.Header[hdrKey], Data: m.Data,
		Origin: m.Header[hdrOrigin], Position: m.Header[hdrPosition]}
	if n, err := strconv.ParseInt(m.Header[hdrTime], 10, 64); err == nil {
		e.Time = time.Unix(0, n).UTC()
	}
	return e
}
