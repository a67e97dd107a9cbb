package stream

import (
	"context"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
)

// At returns the event stored at exactly seq; engine.ErrNotFound when that
// sequence was never written or has been deleted.
func (s *Service) At(ctx context.Context, name string, seq uint64) (event.Event, error) {
	m, err := s.eng.Get(ctx, name, seq)
	if err != nil {
		return event.Event{}, err
	}
	if m.Seq != seq {
		return event.Event{}, engine.ErrNotFound
	}
	return toEvent(m), nil
}

// Window returns the events in [from, to), oldest first, foreign messages
// flagged, in batches: for pages read newest first. ok is false, and
// nothing returned, when their data passes budget bytes (read them one by
// one with At instead).
func (s *Service) Window(ctx context.Context, name string, from, to uint64, budget int) (evs []event.Event, ok bool, err error) {
	size := 0
	for next := from; next < to; {
		b, err := s.eng.Range(ctx, name, next, int(min(to-next, maxBatch)), s.ReadLimits.BatchBytes)
		if err != nil {
			return nil, false, err
		}
		for _, m := range b.Msgs {
			if m.Seq >= to {
				return evs, true, nil
			}
			if size += len(m.Data); size > budget {
				return nil, false, nil
			}
			evs = append(evs, toEvent(m))
			next = m.Seq + 1
		}
		if len(b.Msgs) == 0 || b.Pending == 0 {
			break
		}
	}
	return evs, true, nil
}

// arrivedSince counts the events that arrived at or after t, by binary
// search on the engine's own arrival time.
func (s *Service) arrivedSince(ctx context.Context, name string, st engine.StreamState, t time.Time) (uint64, error) {
	seq, err := s.firstWhere(ctx, name, st, func(m engine.Stored) (yes, known bool) {
		return !m.Arrived.Before(t), !m.Arrived.IsZero() // zero: a message whose headers could not be read
	})
	if err != nil {
		return 0, err
	}
	return st.LastSeq + 1 - seq, nil
}

// RateWindow is the window of Info.RatePerSecond.
const RateWindow = time.Minute

// rate is the mean arrival rate over the last RateWindow, events/s.
func (s *Service) rate(ctx context.Context, name string, st engine.StreamState) float64 {
	n, err := s.arrivedSince(ctx, name, st, time.Now().Add(-RateWindow))
	if err != nil {
		return 0
	}
	return float64(n) / RateWindow.Seconds()
}
