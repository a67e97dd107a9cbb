package eventstreams

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// writeTimeout bounds each write, so a client that stops reading cannot hold
// a handler (or Close) forever.
const writeTimeout = 10 * time.Second

// serveStream answers one request for a stream: faults first, then the
// start position, then events until the client leaves or the server closes.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, streams string) {
	attempt := s.conns.Add(1)
	rec := Request{Streams: streams, LastEventID: r.Header.Get("Last-Event-ID"), Since: r.URL.Query().Get("since")}
	if !s.enter() {
		rec.Status = http.StatusServiceUnavailable
		s.record(rec)
		writeError(w, rec.Status, "unavailable", "the server is closed")
		return
	}
	defer s.active.Done()
	if n := s.status429Every.Load(); n > 0 && attempt%n == 0 {
		rec.Status = http.StatusTooManyRequests
		s.record(rec)
		w.Header().Set("Retry-After", "1")
		writeError(w, rec.Status, "too_many_requests", "injected fault: every "+strconv.FormatInt(n, 10)+"th request")
		return
	}
	start, rerr := s.startOf(r)
	if rerr != nil {
		rec.Status = rerr.status
		s.record(rec)
		writeError(w, rerr.status, rerr.typ, rerr.detail)
		return
	}
	rec.Status, rec.Start = http.StatusOK, start
	s.record(rec)

	ndjson := wantsJSON(r.Header.Get("Accept"))
	h := w.Header()
	if ndjson {
		h.Set("Content-Type", "application/x-ndjson")
	} else {
		h.Set("Content-Type", "text/event-stream; charset=utf-8")
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	var buf []byte
	if !ndjson {
		buf = append(buf, ":ok\n\n"...)
	}
	if !s.write(w, rc, buf) { // also sends the status line
		return
	}

	ctx := r.Context()
	p := pacer{s: s, ctx: ctx, begin: time.Now()}
	var sent int64
	for n := start; ; n++ {
		q := s.silentAfter.Load()
		if q > 0 && sent >= q {
			s.idle(ctx) // silent for good, until one side leaves
			return
		}
		if len(s.evs) == 0 || (!s.opts.Loop && n >= int64(len(s.evs))) {
			s.idle(ctx) // the end of the recording: a live feed with nothing new
			return
		}
		if !p.wait(n, sent) {
			return
		}
		// Decided before the write, so a client that has the last event
		// knows the connection has gone quiet, whatever it sets next.
		lastBeforeSilence := q > 0 && sent+1 >= q
		buf = s.appendEvent(buf[:0], n, ndjson)
		// Counted before the write, so a client that has read the event
		// also sees it in Sent; taken back if the write fails.
		s.sent.Add(1)
		if !s.write(w, rc, buf) {
			s.sent.Add(-1)
			return
		}
		sent++
		if d := s.dropEvery.Load(); d > 0 && sent >= d {
			// Abort: the connection closes without the end of the response,
			// as when a network path or a proxy fails.
			panic(http.ErrAbortHandler)
		}
		if lastBeforeSilence {
			s.idle(ctx)
			return
		}
	}
}

// write sends b (one event at most) and flushes it; false if the client is
// gone or the server closed.
func (s *Server) write(w http.ResponseWriter, rc *http.ResponseController, b []byte) bool {
	if s.ctx.Err() != nil {
		return false
	}
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if len(b) > 0 {
		if _, err := w.Write(b); err != nil {
			return false
		}
	} else {
		w.WriteHeader(http.StatusOK)
	}
	return rc.Flush() == nil
}

// appendEvent appends replay offset n in the wire format.
func (s *Server) appendEvent(buf []byte, n int64, ndjson bool) []byte {
	switch {
	case ndjson:
	case s.opts.TimestampIDs:
		buf = append(buf, "event: message\nid: [{\"topic\":\""+Topic+"\",\"partition\":0,\"timestamp\":"...)
		buf = strconv.AppendInt(buf, s.timeOf(n)+1, 10)
		buf = append(buf, "},{\"topic\":\""+OtherTopic+"\",\"partition\":0,\"offset\":-1}]\ndata: "...)
	default:
		buf = append(buf, "event: message\nid: [{\"topic\":\""+Topic+"\",\"partition\":0,\"offset\":"...)
		buf = strconv.AppendInt(buf, n, 10)
		buf = append(buf, "}]\ndata: "...)
	}
	l := int64(len(s.evs))
	e := &s.evs[n%l]
	at := len(buf)
	if s.opts.Clock != nil {
		buf = e.renderAt(buf, n/l, s.timeOf(n))
	} else {
		buf = e.render(buf, n/l, s.shiftMs)
	}
	if s.opts.Rewrite != nil {
		ev := s.opts.Rewrite(n, buf[at:])
		buf = append(buf[:at], ev...)
	}
	if ndjson {
		return append(buf, '\n')
	}
	return append(buf, "\n\n"...)
}

// idle waits until the client leaves or the server closes.
func (s *Server) idle(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-s.ctx.Done():
	}
}

// sleep waits d; false if the client left or the server closed first.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		select {
		case <-ctx.Done():
			return false
		case <-s.ctx.Done():
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.ctx.Done():
		return false
	}
}

// pacer spaces a connection's events by Options.Clock, Realtime or Rate.
// Each event has a due time counted from the connection's start, so pacing
// does not drift with the time spent writing.
type pacer struct {
	s     *Server
	ctx   context.Context
	begin time.Time
	due   time.Duration // Realtime: the due time of the previous event
}

// wait waits until offset n, the connection's event number sent (from 0),
// is due.
func (p *pacer) wait(n, sent int64) bool {
	switch {
	case p.s.opts.Clock != nil:
		return p.s.sleep(p.ctx, time.Until(p.s.opts.Clock(n)))
	case p.s.opts.Realtime:
		if sent > 0 {
			gap := p.s.timeOf(n) - p.s.timeOf(n-1)
			p.due += time.Duration(max(gap, 0)) * time.Millisecond
		}
	case p.s.opts.Rate > 0:
		p.due = time.Duration(float64(sent) / p.s.opts.Rate * float64(time.Second))
	default:
		return p.s.sleep(p.ctx, 0)
	}
	return p.s.sleep(p.ctx, time.Until(p.begin.Add(p.due)))
}

// wantsJSON reports whether an Accept header asks for JSON rather than
// text/event-stream.
func wantsJSON(accept string) bool {
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/event-stream")
}
