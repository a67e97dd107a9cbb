package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/stream"
)

// sseBuffer is the size of the writers subscriptions borrow to write a
// burst of events; flushed when half full (larger events go straight
// through). All subscribers of a stream write at once, so it is small.
const sseBuffer = 4 << 10

// sseWriters are lent to a subscription only while it writes, so an idle
// subscriber holds no buffer of its own.
var sseWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, sseBuffer) }}

// subscribe streams events as Server-Sent Events: "id: <seq>", "event:
// message", "data: <event JSON>". A comment line keeps idle connections
// open; the stream ends when the client leaves, at until, or after limit.
// Every write must finish within the write timeout, so a client that
// stops reading is dropped instead of holding its goroutine; one that
// reads but falls too far behind the stream gets an "event: dropped" and
// is closed. Either way it resumes exactly with Last-Event-ID.
func (a *API) subscribe(w http.ResponseWriter, r *http.Request, cur *stream.Cursor, p readParams) error {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	s := &sseWriter{w: w, rc: rc, timeout: a.opts.WriteTimeout}
	defer s.release()
	s.arm()
	w.WriteHeader(http.StatusOK)
	if s.comment("ok") != nil {
		return nil
	}
	var last uint64 // the id of the last event sent
	for sent := 0; p.limit == 0 || sent < p.limit; {
		if s.bw != nil && !cur.Ready() {
			if s.flush() != nil {
				return nil
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), a.opts.KeepAlive)
		e, err := cur.Next(ctx)
		cancel()
		switch {
		case errors.Is(err, io.EOF):
			_ = s.flush()
			return nil
		case r.Context().Err() != nil:
			return nil // the client left
		case errors.Is(err, context.DeadlineExceeded):
			if s.comment(" keep-alive") != nil {
				return nil
			}
			continue
		case errors.Is(err, stream.ErrBehind):
			b, _ := json.Marshal(map[string]any{"detail": err.Error() + "; reconnect with Last-Event-ID to continue from the stream",
				"last_event_id": strconv.FormatUint(last, 10)})
			s.frame("event: dropped\ndata: ", b)
			_ = s.flush()
			a.log.Info("subscriber dropped", "path", r.URL.Path, "err", err)
			return nil
		case err != nil:
			// The status line is sent: report in the stream and end it. The
			// error's own words (the engine's) stay in the log, under an id.
			id := newErrorID()
			b, _ := json.Marshal(map[string]string{"detail": "the subscription failed: internal error " + id +
				" (the node's log has the cause under error_id=" + id + "); reconnect with Last-Event-ID", "error_id": id})
			s.frame("event: error\ndata: ", b)
			_ = s.flush()
			a.log.Warn("subscription ended by an error", "path", r.URL.Path, "error_id", id, "err", err)
			return nil
		}
		if e.Foreign && !p.envelope || !p.matches(e) {
			continue
		}
		if s.event(e, p.envelope) != nil {
			return nil
		}
		last = e.Seq
		sent++
	}
	_ = s.flush()
	return nil
}

// sseWriter writes one subscription's frames through a borrowed buffer,
// each burst (from borrowing to flushing) under a fresh write deadline.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	bw      *bufio.Writer // borrowed while there is something to write
	err     error
}

// arm gives the writes that follow timeout to finish.
func (s *sseWriter) arm() {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
}

func (s *sseWriter) writer() *bufio.Writer {
	if s.bw == nil {
		s.arm()
		s.bw = sseWriters.Get().(*bufio.Writer)
		s.bw.Reset(s.w)
	}
	return s.bw
}

func (s *sseWriter) event(e event.Event, envelope bool) error {
	bw := s.writer()
	bw.WriteString("id: ")
	bw.WriteString(strconv.FormatUint(e.Seq, 10))
	s.frame("\nevent: message\ndata: ", encode(e, envelope))
	if bw.Buffered() >= sseBuffer/2 {
		return s.flush()
	}
	return s.err
}

func (s *sseWriter) frame(head string, data []byte) {
	bw := s.writer()
	bw.WriteString(head)
	bw.Write(data)
	if _, err := bw.WriteString("\n\n"); err != nil && s.err == nil {
		s.err = err
	}
}

func (s *sseWriter) comment(text string) error {
	bw := s.writer()
	bw.WriteString(":" + text + "\n\n")
	return s.flush()
}

// flush sends what is buffered and gives the buffer back.
func (s *sseWriter) flush() error {
	if s.bw == nil {
		return s.err
	}
	if err := s.bw.Flush(); err != nil && s.err == nil {
		s.err = err
	}
	if s.err == nil {
		if err := s.rc.Flush(); err != nil {
			s.err = err
		}
	}
	s.release()
	return s.err
}

func (s *sseWriter) release() {
	if s.bw != nil {
		s.bw.Reset(nil)
		sseWriters.Put(s.bw)
		s.bw = nil
	}
}
