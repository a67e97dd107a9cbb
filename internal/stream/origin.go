package stream

import (
	"context"
	"errors"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
)

// LastFrom returns the last event an origin appended to a stream, with its
// data and the origin's position; ok is false if it never appended.
func (s *Service) LastFrom(ctx context.Context, name, origin string) (e event.Event, ok bool, err error) {
	m, err := s.eng.LastOf(ctx, name, origin)
	if errors.Is(err, engine.ErrNotFound) {
		return event.Event{}, false, nil
	}
	if err != nil {
		return event.Event{}, false, err
	}
	return toEvent(m), true, nil
}
