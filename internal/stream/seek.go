package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
)

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
	seq, err := s.firstWhere(ctx, name, st, func(m engine.Stored) (yes, known bool) {
		mk, own := markOf(m)
		return own && mk >= target, own
	})
	if err != nil {
		return 0, fmt.Errorf("seek %q to %s: %w", name, t.Format(time.RFC3339Nano), err)
	}
	return seq, nil
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
