package stream

import (
	"context"
	"fmt"
	"math/bits"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
)

// Resolve turns a position into the first sequence at or after it.
func (s *Service) Resolve(ctx context.Context, name string, p event.Position) (uint64, error) {
	switch p.Kind {
	case event.Time:
		def, err := s.Get(ctx, name)
		if err != nil {
			return 0, err
		}
		return s.seekTime(ctx, name, def.Created, p.Time)
	case event.Sequence:
		return p.Seq, nil
	}
	st, err := s.eng.State(ctx, name)
	if err != nil {
		return 0, err
	}
	return s.resolve(ctx, name, time.Time{}, st, p)
}

// resolve turns a position into the first sequence at or after it; created
// is the stream's, for its cache of time marks; st is needed for earliest
// and latest only.
func (s *Service) resolve(ctx context.Context, name string, created time.Time, st engine.StreamState, p event.Position) (uint64, error) {
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
		return s.seekTime(ctx, name, created, p.Time)
	}
}

// seekTime finds the first event at which the running maximum of event
// time reaches t: O(log n) reads, whatever the stream's length, and fewer
// once the stream's probes are cached (see marks).
//
// The extent of the stream searched is the last one seen: messages before
// its end never change, so an answer short of it is right; one at its end
// may be later still, and the search goes on past it with the state now.
// Most seeks so spare the round trip for the stream's state.
func (s *Service) seekTime(ctx context.Context, name string, created time.Time, t time.Time) (uint64, error) {
	cache := s.markCache(name, created)
	st, ok := cache.extent()
	if !ok {
		var err error
		if st, err = s.eng.State(ctx, name); err != nil {
			return 0, err
		}
		cache.setExtent(st)
	}
	seq, err := s.seekIn(ctx, name, cache, st.FirstSeq, st.LastSeq+1, t)
	if err != nil || !ok || seq <= st.LastSeq {
		return seq, err
	}
	now, err := s.eng.State(ctx, name)
	if err != nil {
		return 0, err
	}
	cache.setExtent(now)
	if now.LastSeq <= st.LastSeq {
		return seq, nil
	}
	return s.seekIn(ctx, name, cache, max(seq, now.FirstSeq), now.LastSeq+1, t)
}

// seekIn is seekTime within [lo, hi).
func (s *Service) seekIn(ctx context.Context, name string, cache *markCache, lo, hi uint64, t time.Time) (uint64, error) {
	target := t.UnixNano()
	if lo == 0 {
		return hi, nil // empty
	}
	for lo < hi {
		mid := split(lo, hi)
		p, ok := cache.get(mid)
		if !ok {
			seq, _, found, err := s.probe(ctx, name, mid, hi, func(m engine.Stored) (bool, bool) {
				mk, own := markOf(m)
				p = probed{seq: m.Seq, mark: mk}
				return false, own
			})
			if err != nil {
				return 0, fmt.Errorf("seek %q to %s: %w", name, t.Format(time.RFC3339Nano), err)
			}
			if !found {
				hi = mid // nothing in [mid, hi) has a mark (or it was trimmed meanwhile)
				continue
			}
			p.seq = seq
			cache.put(mid, p)
		}
		switch {
		case p.seq >= hi:
			hi = mid
		case p.mark >= target:
			hi = p.seq
		default:
			lo = p.seq + 1
		}
	}
	return lo, nil
}

// split is where a search of [lo, hi) probes: the sequence in it with the
// most trailing zero bits, close to the middle. Searches of a growing
// stream then probe the same sequences, and the top of every search is
// found in the cache.
func split(lo, hi uint64) uint64 {
	d := bits.Len64(lo ^ (hi - 1))
	if d == 0 {
		return lo
	}
	return (hi - 1) >> (d - 1) << (d - 1)
}

// probed is what a time seek found probing a sequence: the first of
// sluice's own messages at or after it, and its time mark.
type probed struct {
	seq  uint64
	mark int64
}

// markCache remembers a stream's probes. Messages never change, so a
// probe stays right; one whose message was deleted since still gives a
// mark that bounds the answer from the side it is on (marks only grow
// along the stream), so a search using it misses nothing.
type markCache struct {
	mu      sync.Mutex
	created time.Time // of the stream: a stream made again starts over
	m       map[uint64]probed
	st      engine.StreamState // the stream's extent as last seen
	seen    bool
}

func (c *markCache) extent() (engine.StreamState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st, c.seen
}

func (c *markCache) setExtent(st engine.StreamState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st, c.seen = st, true
}

// maxProbes bounds a stream's cache (about 1 MiB): the top 14 levels of every search.
const maxProbes = 16384

func (s *Service) markCache(name string, created time.Time) *markCache {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.probes[name]
	if c == nil || !c.created.Equal(created) {
		c = &markCache{created: created, m: map[uint64]probed{}}
		s.probes[name] = c
	}
	return c
}

func (c *markCache) get(seq uint64) (probed, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[seq]
	return p, ok
}

func (c *markCache) put(seq uint64, p probed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxProbes {
		clear(c.m) // the top levels come back with the next searches
	}
	c.m[seq] = p
}

// maxStep bounds the messages one probe of a search steps over when it
// lands on messages that cannot answer (foreign ones): past it the probe
// counts as no answer, which can only make the search end earlier in the
// stream (a reader then gets a few events too many, never too few).
const maxStep = 4096

// firstWhere finds the first sequence whose message satisfies ok, a
// predicate that is false and then true along the stream (LastSeq+1 when
// none does), by binary search with direct gets. Messages ok cannot judge
// (known false: foreign ones) are stepped over; the answer may then be
// one of them, which a reader skips on its way to the first that is true.
func (s *Service) firstWhere(ctx context.Context, name string, st engine.StreamState, ok func(engine.Stored) (yes, known bool)) (uint64, error) {
	if st.Messages == 0 {
		return st.LastSeq + 1, nil
	}
	lo, hi := st.FirstSeq, st.LastSeq+1 // answer in [lo, hi]; hi means "after the last"
	for lo < hi {
		mid := lo + (hi-lo)/2
		m, yes, found, err := s.probe(ctx, name, mid, hi, ok)
		if err != nil {
			return 0, err
		}
		switch {
		case !found:
			hi = mid // nothing in [mid, hi) can answer (or it was trimmed meanwhile)
		case yes:
			hi = m
		default:
			lo = m + 1
		}
	}
	return lo, nil
}

// probe finds the first message in [from, hi) that ok can judge.
func (s *Service) probe(ctx context.Context, name string, from, hi uint64, ok func(engine.Stored) (yes, known bool)) (seq uint64, yes, found bool, err error) {
	n, stepped := 1, 0 // most probes land on an event: read one, then step in batches
	for ; from < hi && stepped < maxStep; n = 64 {
		b, err := s.eng.Range(ctx, name, from, int(min(uint64(n), hi-from)), 256<<10)
		if err != nil || len(b.Msgs) == 0 {
			return 0, false, false, err
		}
		for _, m := range b.Msgs {
			if m.Seq >= hi {
				return 0, false, false, nil
			}
			if yes, known := ok(m); known {
				return m.Seq, yes, true, nil
			}
			stepped++
			from = m.Seq + 1
		}
		if b.Pending == 0 {
			break
		}
	}
	if stepped >= maxStep {
		s.log.Warn("search stepped over many messages sluice did not write", "stream", name, "at", from, "count", maxStep)
	}
	return 0, false, false, nil
}
