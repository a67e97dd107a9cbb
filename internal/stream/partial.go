package stream

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-dev/sluice/internal/engine"
)

// AppendError is a produce whose valid events were not all stored. Result
// lists exactly the events that were (often none, then Accepted is 0) and
// those refused as invalid; NotStored is the index of the first valid event
// that was not stored, and Err says why (engine.ErrNoSpace: out of space;
// engine.ErrUnavailable, engine.ErrNoLeader: the engine does not answer,
// and the events missing from Result are not known to be stored or not).
// Sending the events again is safe: their ids de-duplicate.
type AppendError struct {
	Result
	Stream    string
	NotStored int
	Err       error
}

func (e *AppendError) Error() string {
	unknown := errors.Is(e.Err, engine.ErrUnavailable) // the engine did not answer: stored or not, nobody knows
	switch {
	case e.Accepted == 0 && unknown:
		return fmt.Sprintf("no event known to be stored: %v", e.Err)
	case e.Accepted == 0:
		return fmt.Sprintf("no event stored: %v", e.Err)
	case unknown:
		return fmt.Sprintf("%d event(s) stored, event %d and others not known to be: %v", e.Accepted, e.NotStored, e.Err)
	}
	return fmt.Sprintf("%d event(s) stored, event %d and others not: %v", e.Accepted, e.NotStored, e.Err)
}

func (e *AppendError) Unwrap() error { return e.Err }

// appendFailed turns an append error into an AppendError that says what
// was stored: the engine's PartialError lists it, any other error from the
// engine means nothing was, except when ctx ended (then nobody knows, and
// nobody is waiting for the answer).
func (s *Service) appendFailed(name string, res Result, index []int, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	ae := &AppendError{Result: res, Stream: name, NotStored: index[0], Err: err}
	var partial *engine.PartialError
	if errors.As(err, &partial) {
		ae.NotStored = index[partial.First]
		for j, a := range partial.Appended {
			if a.Seq == 0 {
				continue
			}
			ae.Events = append(ae.Events, Written{Index: index[j], Seq: a.Seq, Duplicate: a.Duplicate})
			ae.Accepted++
			if a.Duplicate {
				ae.Duplicates++
			}
		}
		s.metrics.Produced.WithLabelValues(name).Add(float64(ae.Accepted - ae.Duplicates))
		s.metrics.Duplicates.WithLabelValues(name).Add(float64(ae.Duplicates))
	}
	return ae
}
