package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrBody is wrapped by errors about a produce body as a whole.
var ErrBody = errors.New("unreadable body")

// TooLargeError is an event over the per-event size limit.
type TooLargeError struct {
	Index int
	Size  int
	Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("event %d is %d bytes, over the limit of %d bytes per event", e.Index, e.Size, e.Limit)
}

// SplitBody cuts a produce body into raw events, without decoding them:
// NDJSON (one event per non-blank line) when ndjson is set, otherwise one
// JSON value: an array of events or a single event. Events keep pointing
// into body. A line of NDJSON that is not JSON is still returned, and fails
// later as that event's own error; a JSON body that cannot be parsed fails
// as a whole, naming where. Of lim, MaxEventBytes (TooLargeError) and
// MaxEventsPerRequest (TooManyEventsError, found before the rest of the
// body is split) apply; zero is no limit.
func SplitBody(body []byte, ndjson bool, lim Limits) ([][]byte, error) {
	maxEvent, maxEvents := lim.MaxEventBytes, lim.MaxEventsPerRequest
	var events [][]byte
	if ndjson {
		for len(body) > 0 {
			line := body
			if i := bytes.IndexByte(body, '\n'); i >= 0 {
				line, body = body[:i], body[i+1:]
			} else {
				body = nil
			}
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			if maxEvents > 0 && len(events) == maxEvents {
				return nil, &TooManyEventsError{Limit: maxEvents}
			}
			events = append(events, line)
		}
	} else {
		trimmed := bytes.TrimSpace(body)
		switch {
		case len(trimmed) == 0:
			return nil, fmt.Errorf("%w: empty body (send a JSON object, an array of them, or NDJSON)", ErrBody)
		case trimmed[0] == '[':
			var err error
			if events, err = splitArray(trimmed, maxEvents); err != nil {
				return nil, err
			}
		default:
			if !json.Valid(trimmed) {
				return nil, fmt.Errorf("%w: event 0: %v", ErrBody, syntaxError(trimmed))
			}
			events = [][]byte{trimmed}
		}
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: no events in the body", ErrBody)
	}
	for i, e := range events {
		if maxEvent > 0 && len(e) > maxEvent {
			return nil, &TooLargeError{Index: i, Size: len(e), Limit: maxEvent}
		}
	}
	return events, nil
}

func splitArray(body []byte, maxEvents int) ([][]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // '['
		return nil, fmt.Errorf("%w: %v", ErrBody, err)
	}
	var out [][]byte
	for dec.More() {
		if maxEvents > 0 && len(out) == maxEvents {
			return nil, &TooManyEventsError{Limit: maxEvents}
		}
		start := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%w: array element %d (byte %d): %v", ErrBody, len(out), start, err)
		}
		end := dec.InputOffset()
		out = append(out, bytes.TrimSpace(bytes.TrimLeft(body[start:end], ", \t\r\n")))
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, fmt.Errorf("%w: after array element %d: %v", ErrBody, len(out), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the array's end", ErrBody)
	}
	return out, nil
}

func syntaxError(b []byte) error {
	var v any
	err := json.Unmarshal(b, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%v (at byte %d)", se, se.Offset)
	}
	if err == nil {
		return errors.New("invalid JSON")
	}
	return err
}
