package stream

import (
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
)

// EventOf reads a stored message (e.g. a durable consumer's delivery) as
// the event it holds: sequence, id, time, key, origin and position.
func EventOf(m engine.Stored) event.Event { return toEvent(m) }
