// Package sse reads Server-Sent Events (the WHATWG text/event-stream
// format): comments, event, id, retry and multi-line data fields, with
// CRLF, LF or CR line ends, and a bound on event size.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Event is one dispatched event.
type Event struct {
	Type  string // "message" when the stream names none
	ID    string // the last event id seen (it carries over, per the spec)
	Data  []byte // data lines joined by "\n"
	Retry time.Duration
}

// ErrTooLarge is returned for an event over the reader's limit. The event
// has been read past and skipped: the next call reads the one after it.
var ErrTooLarge = errors.New("sse: event too large")

// Reader parses an event stream.
type Reader struct {
	r       *bufio.Reader
	max     int
	lastID  string
	retry   time.Duration
	pending bool // a CR was the last byte: skip an LF that follows
	started bool // the first line was read (a BOM may precede it)
	// Comments, if set, receives comment lines (without the leading colon).
	Comments func(string)
	// DispatchAtEOF delivers an event cut off by the end of the input
	// (recorded captures often lack the last blank line). Live streams
	// leave it unset: a cut event may be incomplete.
	DispatchAtEOF bool
}

// NewReader reads events of at most max bytes of data (0: 4 MiB).
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = 4 << 20
	}
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next event, io.EOF at a clean end of stream, or
// io.ErrUnexpectedEOF when the stream ends inside an event.
func (r *Reader) Next() (Event, error) {
	var data bytes.Buffer
	var typ string
	dataLines, inEvent, tooBig := 0, false, false
	for {
		line, truncated, err := r.line()
		if err != nil {
			if errors.Is(err, io.EOF) && inEvent {
				if r.DispatchAtEOF && (data.Len() > 0 || dataLines > 1) {
					if typ == "" {
						typ = "message"
					}
					return Event{Type: typ, ID: r.lastID, Data: data.Bytes(), Retry: r.retry}, nil
				}
				return Event{}, io.ErrUnexpectedEOF
			}
			return Event{}, err
		}
		if len(line) == 0 { // blank line: dispatch
			if tooBig {
				return Event{ID: r.lastID}, fmt.Errorf("%w: over %d bytes (skipped)", ErrTooLarge, r.max)
			}
			// Per the WHATWG rules, an event whose data is empty is not dispatched.
			if data.Len() == 0 && dataLines <= 1 {
				typ, inEvent, dataLines = "", false, 0
				continue
			}
			if typ == "" {
				typ = "message"
			}
			return Event{Type: typ, ID: r.lastID, Data: data.Bytes(), Retry: r.retry}, nil
		}
		if !r.started {
			r.started = true
			line = bytes.TrimPrefix(line, []byte("\ufeff")) // a byte order mark at the start is ignored
			if len(line) == 0 {
				continue
			}
		}
		inEvent = true
		if line[0] == ':' {
			if r.Comments != nil {
				r.Comments(string(bytes.TrimPrefix(line[1:], []byte(" "))))
			}
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "data":
			if dataLines > 0 {
				data.WriteByte('\n')
			}
			if truncated || data.Len()+len(value) > r.max {
				tooBig = true
				data.Reset()
			}
			if !tooBig {
				data.Write(value)
			}
			dataLines++
		case "event":
			typ = string(value)
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				r.lastID = string(value)
			}
		case "retry":
			if ms, err := strconv.ParseUint(string(value), 10, 31); err == nil {
				r.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

// LastID is the last event id the stream set.
func (r *Reader) LastID() string { return r.lastID }

// line reads one line without its end (CRLF, LF or CR). A line longer
// than the limit is cut there; the rest of it is read and dropped.
func (r *Reader) line() (line []byte, truncated bool, err error) {
	limit := r.max + 64
	var buf []byte
	for {
		b, err := r.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) && (len(buf) > 0 || truncated) {
				return buf, truncated, nil // a last line without an end
			}
			return nil, false, err
		}
		if r.pending {
			r.pending = false
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\n':
			return buf, truncated, nil
		case '\r':
			r.pending = true
			return buf, truncated, nil
		}
		if len(buf) < limit {
			buf = append(buf, b)
		} else {
			truncated = true
		}
		// Take the rest of the line in bulk, up to the next line end.
		chunk, _ := r.r.Peek(r.r.Buffered())
		i := bytes.IndexAny(chunk, "\r\n")
		if i < 0 {
			i = len(chunk)
		}
		keep := min(i, limit-len(buf))
		buf = append(buf, chunk[:keep]...)
		if keep < i {
			truncated = true
		}
		_, _ = r.r.Discard(i)
	}
}
