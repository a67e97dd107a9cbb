package stream

import (
	"context"
	"errors"
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

// arrivedSince counts the events that arrived at or after t, by binary
// search over sequences on the engine's own arrival time: O(log n) gets.
func (s *Service) arrivedSince(ctx context.Context, name string, st engine.StreamState, t time.Time) (uint64, error) {
	if st.Messages == 0 {
		return 0, nil
	}
	lo, hi := st.FirstSeq, st.LastSeq+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		m, err := s.eng.Get(ctx, name, mid)
		if errors.Is(err, engine.ErrNotFound) {
			hi = mid
			continue
		}
		if err != nil {
			return 0, err
		}
		if !m.Arrived.Before(t) {
			hi = mid
		} else {
			lo = m.Seq + 1
		}
	}
	return st.LastSeq + 1 - lo, nil
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
