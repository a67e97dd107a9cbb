// Package event holds the types every layer shares: a stored event and a
// position in a stream.
package event

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PositionKind says how a Position names a place in a stream.
type PositionKind int

// The position kinds.
const (
	Earliest PositionKind = iota // the first event still stored
	Latest                       // just after the last event: only new events
	Sequence                     // the event with this stream sequence
	Time                         // the first event whose event time reaches this time
)

// Position is a place in a stream, written the same way in the API, the CLI,
// config files and the UI: "earliest", "latest", a sequence number ("42"), an
// RFC 3339 time ("2026-11-27T10:00:00Z") or unix milliseconds ("1764237600000").
//
// A bare number is a sequence unless it has 12 or more digits: such numbers
// are unix milliseconds (12 digits is 1973; no stream here has 10^11 events).
type Position struct {
	Kind PositionKind
	Seq  uint64    // for Sequence
	Time time.Time // for Time
}

// ErrBadPosition is wrapped by every error of ParsePosition.
var ErrBadPosition = errors.New("bad position")

// msDigits is the length from which a bare number is read as unix milliseconds.
const msDigits = 12

// ParsePosition reads a position in any of its written forms.
func ParsePosition(s string) (Position, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "earliest", "beginning", "first":
		return Position{Kind: Earliest}, nil
	case "latest", "now", "end":
		return Position{Kind: Latest}, nil
	case "":
		return Position{}, fmt.Errorf("%w: empty (want earliest, latest, a sequence, an RFC 3339 time or unix milliseconds)", ErrBadPosition)
	}
	if isDigits(s) {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return Position{}, fmt.Errorf("%w: %q: number out of range", ErrBadPosition, s)
		}
		if len(s) >= msDigits {
			if n > maxUnixMilli {
				return Position{}, fmt.Errorf("%w: %q: unix milliseconds out of range", ErrBadPosition, s)
			}
			return Position{Kind: Time, Time: time.UnixMilli(int64(n)).UTC()}, nil
		}
		if n == 0 {
			return Position{}, fmt.Errorf("%w: %q: sequences start at 1", ErrBadPosition, s)
		}
		return Position{Kind: Sequence, Seq: n}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return Position{}, fmt.Errorf("%w: %q is not earliest, latest, a sequence, an RFC 3339 time or unix milliseconds", ErrBadPosition, s)
	}
	// A time whose offset takes it out of years 0000-9999 in UTC
	// ("0000-01-01T00:00:00+01:00") cannot be written as RFC 3339 again.
	if u := t.UTC(); u.Year() < 0 || u.Year() > 9999 {
		return Position{}, fmt.Errorf("%w: %q: out of range (years 0000 to 9999 in UTC)", ErrBadPosition, s)
	}
	return Position{Kind: Time, Time: t.UTC()}, nil
}

// maxUnixMilli keeps times within what time.Time formats as RFC 3339 (year 9999).
const maxUnixMilli = 253402300799999

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// String writes the position in the form ParsePosition reads back.
func (p Position) String() string {
	switch p.Kind {
	case Earliest:
		return "earliest"
	case Latest:
		return "latest"
	case Sequence:
		return strconv.FormatUint(p.Seq, 10)
	default:
		return p.Time.UTC().Format(time.RFC3339Nano)
	}
}

// ParseTime reads an event time: RFC 3339 (with or without fractional seconds).
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
