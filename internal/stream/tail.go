package stream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
)

// ErrBehind ends a live subscriber that fell too far behind the newest
// event: it resumes (Last-Event-ID) from the stream itself.
var ErrBehind = errors.New("subscriber fell too far behind the stream")

// tailLinger is how long a tail outlives its last subscriber, so that
// reconnecting clients find it still there.
const tailLinger = 10 * time.Second

// tail is a node's one follower of a stream, shared by every live
// subscriber of it: one engine consumer however many subscribers, and a
// ring of the recent events, bounded in bytes, which subscribers read at
// their own pace without copies. A subscriber that starts further back
// catches up from the stream with range reads and then joins the ring.
type tail struct {
	name     string
	limits   ReadLimits
	rd       engine.Reader
	cancel   context.CancelFunc
	started  chan struct{} // closed when start returned, with startErr
	startErr error
	ran      chan struct{} // closed when run ends
	stop     sync.Once

	mu    sync.RWMutex
	ring  []slot        // circular: entry i (absolute) is ring[i%len(ring)]
	head  uint64        // absolute index of the oldest entry
	n     uint64        // entries held
	bytes int64         // their size
	total uint64        // bytes ever added: an entry's offset says how far behind its reader is
	floor uint64        // every message from this sequence on is in the ring, or on its way
	wake  chan struct{} // closed to wake the subscribers waiting for more
	err   error         // why the tail ended

	subs     atomic.Int64 // subscribers now
	woke     time.Time    // when they were last woken
	wakeLate *time.Timer  // a wake-up put off (t.mu)

	users int         // under Service.tailMu
	idle  *time.Timer // stops the tail when it has been unused for tailLinger
}

type slot struct {
	item
	off uint64 // total before it
}

// openTail returns the stream's tail, starting it if needed; every call
// that succeeds is paired with releaseTail. The first subscriber starts
// it (a state read and a consumer, once a stream) without holding the
// lock; the ones that come meanwhile wait for it.
func (s *Service) openTail(ctx context.Context, name string) (*tail, error) {
	s.tailMu.Lock()
	if s.closed {
		s.tailMu.Unlock()
		return nil, fmt.Errorf("subscribe to %q: %w", name, engine.ErrClosed)
	}
	t := s.tails[name]
	if t != nil && t.failed() != nil {
		delete(s.tails, name)
		t = nil
	}
	starter := t == nil
	if starter {
		t = &tail{name: name, limits: s.ReadLimits, wake: make(chan struct{}), ran: make(chan struct{}),
			started: make(chan struct{}), ring: make([]slot, 64)}
		s.tails[name] = t
	}
	t.users++
	t.subs.Add(1)
	if t.idle != nil {
		t.idle.Stop()
		t.idle = nil
	}
	s.tailMu.Unlock()
	if starter {
		t.startErr = t.start(ctx, s)
		close(t.started)
	}
	select {
	case <-t.started:
	case <-ctx.Done():
		s.releaseTail(t)
		return nil, ctx.Err()
	}
	if t.startErr != nil {
		s.tailMu.Lock()
		if s.tails[name] == t {
			delete(s.tails, name)
		}
		s.tailMu.Unlock()
		s.releaseTail(t)
		return nil, t.startErr
	}
	return t, nil
}

// start follows the stream from its end.
func (t *tail) start(ctx context.Context, s *Service) error {
	st, err := s.eng.State(ctx, t.name)
	if err != nil {
		return err
	}
	t.floor = st.LastSeq + 1
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if t.rd, err = s.eng.Follow(tctx, t.name, t.floor); err != nil {
		cancel()
		return err
	}
	t.cancel = cancel
	go t.run(tctx, s)
	return nil
}

// releaseTail ends one use of a tail; the last one starts its linger.
func (s *Service) releaseTail(t *tail) {
	s.tailMu.Lock()
	defer s.tailMu.Unlock()
	t.users--
	t.subs.Add(-1)
	if t.users > 0 || s.tails[t.name] != t {
		return
	}
	t.idle = time.AfterFunc(tailLinger, func() {
		s.tailMu.Lock()
		idle := t.users == 0 && s.tails[t.name] == t
		if idle {
			delete(s.tails, t.name)
		}
		s.tailMu.Unlock()
		if idle {
			t.close()
		}
	})
}

// Close stops every tail (ending their subscribers); no new ones start.
func (s *Service) Close() {
	s.tailMu.Lock()
	s.closed = true
	tails := s.tails
	s.tails = map[string]*tail{}
	s.tailMu.Unlock()
	for _, t := range tails {
		t.close()
	}
}

// close stops the tail and deletes its consumer; it waits for run to end.
// The reader is stopped before the wait: a follower whose consumer is
// gone (JetStream restarting, a stream without quorum) retries in the
// client until it is stopped, whatever its context says.
func (t *tail) close() {
	t.stop.Do(func() {
		<-t.started
		if t.startErr != nil {
			return
		}
		t.cancel()
		t.rd.Close()
		<-t.ran
	})
}

// dropTail stops a stream's tail (its subscribers end) when the stream is
// deleted: a stream made again under the name starts at sequence 1, and
// the old ring must not serve the deleted stream's events to it.
func (s *Service) dropTail(name string) {
	s.tailMu.Lock()
	t := s.tails[name]
	delete(s.tails, name)
	s.tailMu.Unlock()
	if t != nil {
		t.close()
	}
}

func (t *tail) run(ctx context.Context, s *Service) {
	defer close(t.ran)
	for {
		m, err := t.rd.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("tail of %q stopped: %w", t.name, engine.ErrClosed)
			}
			t.fail(fmt.Errorf("follow %q: %w", t.name, err))
			s.tailMu.Lock()
			if s.tails[t.name] == t {
				delete(s.tails, t.name)
			}
			s.tailMu.Unlock()
			if ctx.Err() == nil {
				s.log.Warn("stream tail ended", "stream", t.name, "err", err)
				go t.close()
			}
			return
		}
		t.add(itemOf(m))
	}
}

func (t *tail) add(it item) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if it.ev.Seq < t.floor {
		return // the follower started a little before the tail's floor
	}
	if t.n == uint64(len(t.ring)) {
		t.grow()
	}
	t.ring[(t.head+t.n)%uint64(len(t.ring))] = slot{item: it, off: t.total}
	t.n++
	t.bytes += it.size
	t.total += uint64(it.size)
	for t.n > 1 && t.bytes > t.limits.TailBytes {
		old := &t.ring[t.head%uint64(len(t.ring))]
		t.bytes -= old.size
		t.floor = old.ev.Seq + 1
		*old = slot{} // let the event go
		t.head++
		t.n--
	}
	t.wakeAll(false)
}

// wakeSpacing is how long a tail waits between wake-ups per subscriber: a
// tail with n subscribers wakes them at most once every n × wakeSpacing
// (and at least every maxWakeGap). Each wake-up costs every subscriber a
// write to its connection; events that come closer together go out in
// one write, so the work of a busy stream's subscribers is bounded by
// their number, not by the rate: 2,000 of them, woken every 50 ms, make
// 40,000 writes a second however many events there are.
const (
	wakeSpacing = 25 * time.Microsecond
	maxWakeGap  = 100 * time.Millisecond
)

// wakeAll wakes the waiting subscribers now, or when the spacing since
// the last wake-up has passed; t.mu held. late: the timer's own call.
func (t *tail) wakeAll(late bool) {
	if late {
		t.wakeLate = nil
	} else if t.wakeLate != nil {
		return // already due
	}
	gap := min(time.Duration(t.subs.Load())*wakeSpacing, maxWakeGap)
	if wait := gap - time.Since(t.woke); wait > 0 && t.err == nil {
		t.wakeLate = time.AfterFunc(wait, func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.wakeAll(true)
		})
		return
	}
	t.woke = time.Now()
	close(t.wake)
	t.wake = make(chan struct{})
}

// grow doubles the ring, keeping absolute indexes where they are.
func (t *tail) grow() {
	ring := make([]slot, 2*len(t.ring))
	for i := t.head; i < t.head+t.n; i++ {
		ring[i%uint64(len(ring))] = t.ring[i%uint64(len(t.ring))]
	}
	t.ring = ring
}

func (t *tail) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.err = err
	if t.wakeLate != nil {
		t.wakeLate.Stop()
		t.wakeLate = nil
	}
	t.wakeAll(false)
}

func (t *tail) failed() error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.err
}

// at is the slot of absolute index i; t.mu held.
func (t *tail) at(i uint64) *slot { return &t.ring[i%uint64(len(t.ring))] }

// find is the absolute index of the first entry at or after seq (head+n
// if none yet); t.mu held.
func (t *tail) find(seq uint64) uint64 {
	k := sort.Search(int(t.n), func(k int) bool { return t.at(t.head+uint64(k)).ev.Seq >= seq })
	return t.head + uint64(k)
}

// join places a reader whose next sequence is seq in the ring at *i, if
// the ring has everything from seq on and seq is less than half MaxBehind
// behind (a reader further back goes on catching up from the stream; the
// margin keeps one that just joined from being dropped at once).
func (t *tail) join(i *uint64, seq uint64) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if seq < t.floor {
		return false
	}
	k := t.find(seq)
	if k < t.head+t.n && t.total-t.at(k).off > uint64(t.limits.MaxBehind/2) {
		return false
	}
	*i = k
	return true
}

// newest is the sequence of the newest event in the ring, 0 if none.
func (t *tail) newest() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.n == 0 {
		return 0
	}
	return t.at(t.head + t.n - 1).ev.Seq
}

func (t *tail) floorNow() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.floor
}

// read copies into buf the events from absolute index *i on, at least seq,
// advancing *i. With none yet it returns a channel closed when there are.
// ErrBehind: the reader fell out of the ring or too far behind the newest.
func (t *tail) read(i *uint64, seq uint64, buf []item) ([]item, <-chan struct{}, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if *i < t.head {
		return buf, nil, ErrBehind
	}
	for ; *i < t.head+t.n && len(buf) < cap(buf); *i++ {
		s := t.at(*i)
		if len(buf) == 0 && t.total-s.off > uint64(t.limits.MaxBehind) {
			return buf, nil, ErrBehind
		}
		if s.ev.Seq >= seq {
			buf = append(buf, s.item)
		}
	}
	if len(buf) > 0 {
		return buf, nil, nil
	}
	if t.err != nil {
		return buf, nil, t.err
	}
	return buf, t.wake, nil
}
