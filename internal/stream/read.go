package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
)

// Range is what to read: [From, Until), following new events if Follow.
type Range struct {
	From   event.Position
	Until  *event.Position // nil: no end
	Follow bool            // wait for new events instead of ending at the current last one
	// Want is how many events the caller means to read (a page's limit),
	// 0 if it does not know; it sizes the first round trip to the engine.
	Want int
	// Foreign delivers messages sluice did not write, flagged (see
	// Foreign), instead of skipping them.
	Foreign bool
}

// ReadLimits bound what reading costs a node.
type ReadLimits struct {
	// TailBytes bounds the recent events a node keeps of each stream with
	// live subscribers, shared by all of them.
	TailBytes int64
	// MaxBehind is how far (bytes of events) a live subscriber may lag
	// behind the newest event before it is dropped with ErrBehind.
	MaxBehind int64
	// BatchBytes bounds one round trip of a read to the engine.
	BatchBytes int
}

// DefaultReadLimits are the read limits when none are configured.
var DefaultReadLimits = ReadLimits{TailBytes: 32 << 20, MaxBehind: 8 << 20, BatchBytes: 1 << 20}

// maxBatch bounds the events of one round trip of a read; followers
// catching up from the stream read smaller batches.
const (
	maxBatch         = 256
	followBatch      = 64
	followBatchBytes = 256 << 10
)

// Cursor reads a range of a stream in order: by batched direct gets, so a
// read holds nothing on the server; a following cursor then reads the
// node's shared tail of the stream.
type Cursor struct {
	svc       *Service
	name      string
	start     uint64    // first sequence of the range
	next      uint64    // the sequence expected next
	end       uint64    // exclusive end sequence, if endSet
	endSet    bool      // unset: a range that ends where the stream does when it is reached
	untilTime time.Time // end at the first event whose running max of event time reaches it; zero: none
	follow    bool
	foreign   bool
	done      bool
	closed    bool

	buf      []item // read, not yet returned
	pos      int
	want     int  // events to ask for in the next round trip
	wanted   int  // Range.Want
	returned int  // events returned
	fetched  bool // a round trip was made
	skipped  int  // foreign messages stepped over

	scan    engine.Reader // a long range's consumer, deleted on Close
	scanEOF bool
	noScan  bool // the engine could not make one: batches to the end

	tail   *tail // following: the shared tail
	inTail bool  // reading the tail's ring, at index abs
	abs    uint64
}

// Open starts reading a stream.
func (s *Service) Open(ctx context.Context, name string, r Range) (*Cursor, error) {
	def, err := s.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	c := &Cursor{svc: s, name: name, follow: r.Follow, foreign: r.Foreign, want: maxBatch, wanted: r.Want}
	if r.Want > 0 {
		c.want = min(r.Want, maxBatch)
	}
	// A read from a sequence or a time needs nothing but its batches (and
	// a time seek's probes): the stream's state, a round trip as long as
	// the read, only for earliest and latest.
	var st engine.StreamState
	extent := func(p event.Position) bool { return p.Kind == event.Earliest || p.Kind == event.Latest }
	needState := extent(r.From) || r.Until != nil && extent(*r.Until) || r.Want >= scanMin && !r.Follow // a long read scans to the stream's end
	if needState {
		if st, err = s.eng.State(ctx, name); err != nil {
			return nil, err
		}
	}
	if c.start, err = s.resolve(ctx, name, def.Created, st, r.From); err != nil {
		return nil, err
	}
	if r.Until != nil {
		switch r.Until.Kind {
		case event.Time:
			c.untilTime = r.Until.Time
		default:
			if c.end, err = s.resolve(ctx, name, def.Created, st, *r.Until); err != nil {
				return nil, err
			}
			c.end, c.endSet = max(c.end, 1), true
		}
	}
	if !r.Follow && needState && (!c.endSet || c.end > st.LastSeq+1) {
		c.end, c.endSet = st.LastSeq+1, true
	}
	c.next = c.start
	if c.endSet && c.start >= c.end {
		c.done = true
		return c, nil
	}
	if r.Follow {
		if c.tail, err = s.openTail(ctx, name); err != nil {
			return nil, err
		}
		s.metrics.Subscribers.WithLabelValues(name).Inc()
	}
	return c, nil
}

// Done reports whether the range is over: nothing more will come.
func (c *Cursor) Done() bool { return c.done }

// Start is the first sequence of the range: where a reader that got
// nothing should ask again.
func (c *Cursor) Start() uint64 { return c.start }

// Skipped counts the foreign messages the cursor stepped over.
func (c *Cursor) Skipped() int { return c.skipped }

// Ready reports whether Next would return without waiting: an event it
// returns is already read.
func (c *Cursor) Ready() bool {
	for _, it := range c.buf[c.pos:] {
		if it.ev.Seq >= c.next && (!it.ev.Foreign || c.foreign) {
			return true
		}
	}
	return c.done
}

// Next returns the next event, or io.EOF at the end of the range. A
// following cursor that fell too far behind returns ErrBehind.
func (c *Cursor) Next(ctx context.Context) (event.Event, error) {
	for {
		if c.done {
			return event.Event{}, io.EOF
		}
		if c.pos == len(c.buf) {
			if err := c.fill(ctx); err != nil {
				return event.Event{}, err
			}
			continue
		}
		it := c.buf[c.pos]
		c.buf[c.pos] = item{} // the cursor keeps no event it returned
		c.pos++
		if it.ev.Seq < c.next {
			continue
		}
		if c.endSet && it.ev.Seq >= c.end ||
			!c.untilTime.IsZero() && !it.ev.Foreign && it.mark >= c.untilTime.UnixNano() {
			c.finish()
			return event.Event{}, io.EOF
		}
		c.next = it.ev.Seq + 1
		if c.endSet && c.next >= c.end {
			c.finish() // the last one of the range: do not wait for another
		}
		if it.ev.Foreign {
			c.svc.metrics.Foreign.WithLabelValues(c.name).Inc()
			if !c.foreign {
				c.skipped++
				continue
			}
		}
		c.returned++
		return it.ev, nil
	}
}

func (c *Cursor) fill(ctx context.Context) error {
	c.buf, c.pos = c.buf[:0], 0
	if c.follow {
		return c.fillFollow(ctx)
	}
	if c.scan != nil {
		return c.fillScan(ctx)
	}
	if !c.endSet && c.fetched {
		// Past the first round trip, fix the end at the stream's end now,
		// so that reading a stream that grows as fast ends all the same.
		st, err := c.svc.eng.State(ctx, c.name)
		if err != nil {
			return err
		}
		c.end, c.endSet = st.LastSeq+1, true
		if c.next >= c.end {
			c.finish()
			return nil
		}
	}
	if c.endSet && c.end-c.next >= scanMin && (c.wanted == 0 || c.wanted-c.returned >= scanMin) && !c.noScan {
		r, err := c.svc.eng.Scan(ctx, c.name, c.next, c.end)
		if err == nil {
			c.scan = r
			return c.fillScan(ctx)
		}
		c.noScan = true // e.g. the server's consumer limit: batches work all the same
		c.svc.log.Debug("long read in batches", "stream", c.name, "err", err)
	}
	b, err := c.batch(ctx)
	if err != nil {
		return err
	}
	if len(b.Msgs) == 0 {
		c.finish() // nothing at or after next: the rest was deleted (or never written)
		return nil
	}
	if last := b.Msgs[len(b.Msgs)-1].Seq + 1; b.Pending == 0 && (!c.endSet || last < c.end) {
		c.end, c.endSet = last, true // nothing after these now: the range ends with them
	}
	return nil
}

// scanMin is the length of range (events) from which a read goes on with
// a scan instead of batches: a batch direct get costs the server about
// twice as much per message as a consumer's delivery (it rewrites each
// message's headers), a consumer a millisecond or two to make and delete.
const scanMin = 512

// fillScan reads the next events of a long range from its scan.
func (c *Cursor) fillScan(ctx context.Context) error {
	for !c.scanEOF && len(c.buf) < maxBatch {
		m, err := c.scan.Next(ctx)
		if errors.Is(err, io.EOF) {
			c.scanEOF = true
			break
		}
		if err != nil {
			if len(c.buf) > 0 {
				return nil // these first; the error comes again
			}
			return err
		}
		c.buf = append(c.buf, itemOf(m))
	}
	if len(c.buf) == 0 {
		c.finish()
	}
	return nil
}

// batch reads the next round trip into buf.
func (c *Cursor) batch(ctx context.Context) (engine.Batch, error) {
	n := uint64(c.want)
	if c.endSet {
		n = min(n, c.end-c.next)
	}
	size := c.svc.ReadLimits.BatchBytes
	if c.follow {
		// What a subscriber that stops reading holds while it catches up:
		// many reconnect at once after a restart.
		n, size = min(n, followBatch), min(size, followBatchBytes)
	}
	b, err := c.svc.eng.Range(ctx, c.name, c.next, int(max(n, 1)), size)
	if err != nil {
		return b, err
	}
	c.fetched = true
	c.want = min(4*c.want, maxBatch)
	for _, m := range b.Msgs {
		c.buf = append(c.buf, itemOf(m))
	}
	return b, nil
}

// tailRead is how many events a follower takes from the ring at a time:
// its buffer is most of what a subscriber costs the node (about 3 KiB).
const tailRead = 16

// fillFollow catches up from the stream until the tail's ring has what
// comes next, then reads the ring.
func (c *Cursor) fillFollow(ctx context.Context) error {
	for {
		if c.inTail {
			if cap(c.buf) != tailRead {
				c.buf = make([]item, 0, tailRead) // not the catch-up's larger one
			}
			buf, wake, err := c.tail.read(&c.abs, c.next, c.buf[:0:tailRead])
			if errors.Is(err, ErrBehind) {
				c.svc.metrics.Dropped.WithLabelValues(c.name).Inc()
				return fmt.Errorf("%w: next event %d", ErrBehind, c.next)
			}
			if err != nil {
				return err
			}
			if len(buf) > 0 {
				c.buf = buf
				return nil
			}
			select {
			case <-wake:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		if c.inTail = c.tail.join(&c.abs, c.next); c.inTail {
			continue
		}
		b, err := c.batch(ctx)
		if err != nil {
			return err
		}
		if len(b.Msgs) > 0 {
			return nil
		}
		// Nothing stored at or after next, yet the ring starts later:
		// what was in between is gone.
		c.next = max(c.next, c.tail.floorNow())
	}
}

func (c *Cursor) finish() {
	c.done = true
	c.Close()
}

// Close stops the cursor; it is safe to call more than once.
func (c *Cursor) Close() {
	if c.closed {
		return
	}
	c.closed, c.done = true, true
	if c.scan != nil {
		c.scan.Close()
	}
	if c.tail != nil {
		c.svc.releaseTail(c.tail)
		c.svc.metrics.Subscribers.WithLabelValues(c.name).Dec()
	}
}
