package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/event"
)

// ErrForeign marks a message that is in a stream without sluice having
// stored it: a client of the embedded NATS server (nats.listen) published
// it straight into the stream's subject, so no schema, id or time was
// checked. Readers of a stream may meet such messages and must not take
// them for events.
var ErrForeign = errors.New("not an event sluice stored")

// NotEvent reports why e is not an event sluice stored (wrapping
// ErrForeign), or nil if it is one: beside the headers readers check
// (Foreign), sluice stores every event's data as one JSON object in UTF-8.
// It costs one pass over the data (json.Valid), far less than decoding
// it: pipelines and files outputs, which hand the data on, check it;
// readers, which only pass it through, check the headers alone.
func NotEvent(e event.Event) error {
	switch {
	case e.Foreign && e.ID != "" && !e.Time.IsZero():
		return fmt.Errorf("message %d has no valid %s header, or is not one line (published straight to NATS?): %w", e.Seq, hdrMark, ErrForeign)
	case e.ID == "":
		return fmt.Errorf("message %d has no %s header (published straight to NATS?): %w", e.Seq, hdrID, ErrForeign)
	case e.Time.IsZero():
		return fmt.Errorf("message %d has no valid %s header (published straight to NATS?): %w", e.Seq, hdrTime, ErrForeign)
	}
	return notObject(e.Seq, e.Data)
}

// notObject reports why data is not one JSON object in UTF-8.
func notObject(seq uint64, data []byte) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("message %d is not UTF-8: %w", seq, ErrForeign)
	}
	if !json.Valid(data) {
		return fmt.Errorf("message %d is not valid JSON: %w", seq, ErrForeign)
	}
	if d := bytes.TrimLeft(data, " \t\r\n"); len(d) == 0 || d[0] != '{' {
		return fmt.Errorf("message %d is JSON but not an object: %w", seq, ErrForeign)
	}
	return nil
}
