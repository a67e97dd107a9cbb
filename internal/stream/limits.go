package stream

import (
	"fmt"

	"github.com/sluice-dev/sluice/internal/schema"
)

// Limits bound what one produce call may carry and cost. Zero values mean
// no limit, except MaxNumberLength (zero: schema.DefaultMaxNumberLength).
type Limits struct {
	MaxEventBytes   int // default 1 MiB
	MaxRequestBytes int // default 32 MiB
	// MaxEventsPerRequest bounds the events of one produce body (default
	// 100,000): the body is refused whole past it (TooManyEventsError).
	MaxEventsPerRequest int
	// MaxNumberLength bounds a number's literal in an event, in characters
	// (default 100); its exponent is bounded by schema.MaxExponent.
	MaxNumberLength int
	// MaxInvalidListed bounds the refused events Produce lists (default
	// 100); Result.InvalidCount counts them all.
	MaxInvalidListed int
}

// DefaultLimits are the limits when none are configured.
var DefaultLimits = Limits{MaxEventBytes: 1 << 20, MaxRequestBytes: 32 << 20, MaxEventsPerRequest: 100_000,
	MaxNumberLength: schema.DefaultMaxNumberLength, MaxInvalidListed: 100}

// Bounds on how one refused event is described, so an answer's size
// depends on the number of events listed, not on what is in them: an event
// of a million bad members yields maxViolations lines of at most
// maxViolationText bytes of pointer and of message each.
const (
	maxViolations    = 10
	maxViolationText = 512
)

// TooManyEventsError is a produce body of more events than allowed.
type TooManyEventsError struct{ Limit int }

func (e *TooManyEventsError) Error() string {
	return fmt.Sprintf("the body holds more than %d events, the limit per request (limits.max_events_per_request); split it into smaller requests", e.Limit)
}

// newInvalid describes a refused event within the bounds above.
func newInvalid(index int, vs []schema.Violation) Invalid {
	inv := Invalid{Index: index}
	if len(vs) > maxViolations {
		inv.OmittedErrors = len(vs) - maxViolations
		vs = vs[:maxViolations]
	}
	inv.Errors = make([]schema.Violation, len(vs))
	for i, v := range vs {
		v.Pointer, v.Message = clip(v.Pointer), clip(v.Message)
		inv.Errors[i] = v
	}
	return inv
}

// clip cuts s to maxViolationText bytes, on a rune boundary, marking the cut.
func clip(s string) string {
	if len(s) <= maxViolationText {
		return s
	}
	cut := maxViolationText - len("…")
	for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}
