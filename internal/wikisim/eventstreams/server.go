// Package eventstreams is a stand-in for Wikimedia EventStreams
// (https://stream.wikimedia.org) that replays recorded events, for offline
// demos and tests.
//
// It speaks the real wire format: GET /v2/stream/{streams} answers
// text/event-stream starting with the comment ":ok", then for each event
// "event: message", "id: <JSON array of topic-partition positions>" and
// "data: <event JSON>". Its ids have the real shape with an offset, the
// event's index in the replay sequence:
//
//	[{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":N}]
//
// A client resumes by sending an id back in Last-Event-ID (offset N
// continues at N+1; a "timestamp" entry at the first event at or after it),
// or starts at an event time with ?since= (unix milliseconds or ISO 8601).
// Options add pacing, endless looping and faults for testing clients.
package eventstreams

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Topic is the Kafka topic named in the ids this server sends.
const Topic = "eqiad.mediawiki.recentchange"

// OtherTopic is the other datacenter's topic, at offset -1 in timestamp ids.
const OtherTopic = "codfw.mediawiki.recentchange"

// maxRequests bounds the record of requests kept for Requests.
const maxRequests = 1000

// Options configure a Server.
type Options struct {
	// Rate paces each connection at this many events a second; 0 sends as
	// fast as the client reads.
	Rate float64
	// Realtime paces each connection by the gaps between consecutive events'
	// meta.dt (an event older than the one before goes out at once). It
	// takes precedence over Rate.
	Realtime bool
	// Loop replays the recording forever. Loop k (from 0) shifts every
	// meta.dt and "timestamp" forward by k times the recording's time span
	// (rounded up to whole seconds) plus one second, and gives each event a
	// new meta.id derived from the original and k. Without Loop, a
	// connection that reaches the end stays open and idle, like a live feed
	// with nothing new.
	Loop bool
	// Clock, if set, restamps the events: the one at replay offset n gets
	// meta.dt (and "timestamp") Clock(n), in every loop including the
	// first, and a connection sends it no earlier than that time (events
	// whose time has passed go out as fast as the client reads). since= and
	// timestamp positions seek by it. Clock must not decrease as n grows.
	// It takes precedence over Rate and Realtime.
	Clock func(n int64) time.Time
	// TimestampIDs sends ids the way EventStreams mostly does: the event's
	// time in milliseconds + 1 for this server's topic (and offset -1 for
	// the other datacenter's), instead of its offset. Events that share a
	// millisecond then share an id, and resuming with one skips the events
	// of that millisecond that came after it, as the real feed does.
	TimestampIDs bool
	// Rewrite, if set, is given each event as sent (after the loop's and
	// Clock's changes) with its replay offset, and returns the event to
	// send instead: one line of JSON. It may reuse ev's memory but must not
	// keep it. It is called once per event sent on every connection, from
	// each connection's goroutine.
	Rewrite func(n int64, ev []byte) []byte

	// Faults, for testing clients; each can be changed while running with
	// the Set methods.

	// DropEvery aborts the connection (no clean end of the response) after
	// every N events sent on it.
	DropEvery int
	// Status429Every answers every Nth request for a stream (counted over
	// the server's life) with 429 Too Many Requests and "Retry-After: 1".
	Status429Every int
	// SilentAfter stops sending after N events on a connection but keeps it
	// open until the client leaves or the server is closed.
	SilentAfter int
}

// Request records one request for a stream.
type Request struct {
	Streams     string // the {streams} path segment, e.g. "recentchange"
	LastEventID string // the Last-Event-ID header as sent ("" if none)
	Since       string // the since query parameter as sent ("" if none)
	Status      int    // the HTTP status answered
	Start       int64  // the replay offset the stream started at (status 200)
}

// Server serves recorded events like EventStreams. It is an http.Handler.
type Server struct {
	opts    Options
	evs     []recorded
	shiftMs int64 // how far each loop moves event times
	maxMs   int64 // the latest event time in the recording
	spec    []byte

	dropEvery, status429Every, silentAfter atomic.Int64
	conns, sent                            atomic.Int64

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	active   sync.WaitGroup
	requests []Request
}

// New returns a Server replaying events (each one JSON object, as returned
// by Load) in order. The server does not modify events; neither may the
// caller while it runs.
func New(events [][]byte, o Options) *Server {
	s := &Server{opts: o}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.evs = make([]recorded, len(events))
	for i, b := range events {
		s.evs[i] = prepare(b)
		if i == 0 || s.evs[i].ms > s.maxMs {
			s.maxMs = s.evs[i].ms
		}
	}
	s.shiftMs = loopShift(s.evs)
	s.SetDropEvery(o.DropEvery)
	s.SetStatus429Every(o.Status429Every)
	s.SetSilentAfter(o.SilentAfter)
	s.spec = buildSpec(s.evs)
	return s
}

// SetDropEvery changes Options.DropEvery (0 turns it off). Open connections
// see the new value at their next event.
func (s *Server) SetDropEvery(n int) { s.dropEvery.Store(int64(max(n, 0))) }

// SetStatus429Every changes Options.Status429Every (0 turns it off).
func (s *Server) SetStatus429Every(n int) { s.status429Every.Store(int64(max(n, 0))) }

// SetSilentAfter changes Options.SilentAfter (0 turns it off). A connection
// already silent stays silent.
func (s *Server) SetSilentAfter(n int) { s.silentAfter.Store(int64(max(n, 0))) }

// Connections is the number of requests for a stream received so far,
// including those answered with an error.
func (s *Server) Connections() int64 { return s.conns.Load() }

// Sent is the number of events sent so far, over all connections.
func (s *Server) Sent() int64 { return s.sent.Load() }

// Requests returns the most recent requests for a stream (up to 1000), oldest
// first: what each asked for and where it started.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == maxRequests {
		s.requests = append(s.requests[:0], s.requests[1:]...)
	}
	s.requests = append(s.requests, r)
}

// Close ends every open stream and waits for their handlers to return; later
// requests for a stream get 503. Close does not stop an http.Server that
// serves s.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.active.Wait()
}

// enter registers a running stream handler; false once the server is closed.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.active.Add(1)
	return true
}

// ServeHTTP serves GET /v2/stream/{streams} and GET /?spec.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "only GET is served")
		return
	}
	switch {
	case r.URL.Path == "/" && r.URL.Query().Has("spec"):
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.spec)
	case strings.HasPrefix(r.URL.Path, "/v2/stream/"):
		streams := strings.TrimPrefix(r.URL.Path, "/v2/stream/")
		if !validStreams(streams) {
			writeError(w, http.StatusNotFound, "not_found", "no such stream: "+streams)
			return
		}
		s.serveStream(w, r, streams)
	default:
		writeError(w, http.StatusNotFound, "not_found", "not found: "+r.URL.Path)
	}
}

func validStreams(streams string) bool {
	for name := range strings.SplitSeq(streams, ",") {
		if name == "" || strings.ContainsAny(name, "/ ") {
			return false
		}
	}
	return true
}

// writeError answers a JSON error document whose "type" names the error.
func writeError(w http.ResponseWriter, status int, typ, detail string) {
	b, _ := json.Marshal(map[string]any{
		"type": typ, "title": http.StatusText(status), "status": status, "detail": detail,
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// buildSpec returns a small OpenAPI document listing the stream paths.
func buildSpec(evs []recorded) []byte {
	get := func(summary string) map[string]any {
		return map[string]any{"get": map[string]any{
			"summary": summary,
			"parameters": []map[string]any{
				{"name": "since", "in": "query", "schema": map[string]any{"type": "string"},
					"description": "unix milliseconds or an ISO 8601 time"},
				{"name": "Last-Event-ID", "in": "header", "schema": map[string]any{"type": "string"}},
			},
			"responses": map[string]any{
				"200": map[string]any{"content": map[string]any{"text/event-stream": map[string]any{}}},
				"400": map[string]any{"description": "invalid_timestamp or invalid_last_event_id"},
			},
		}}
	}
	paths := map[string]any{"/v2/stream/{streams}": get("Comma-separated stream names")}
	for _, e := range evs {
		if e.stream == "" || strings.ContainsAny(e.stream, "/, ") {
			continue
		}
		paths["/v2/stream/"+e.stream] = get(e.stream)
		if short, ok := strings.CutPrefix(e.stream, "mediawiki."); ok {
			paths["/v2/stream/"+short] = get(e.stream)
		}
	}
	b, _ := json.Marshal(map[string]any{
		"openapi": "3.0.1",
		"info": map[string]any{
			"title":       "EventStreams (sluice replay stand-in)",
			"version":     "1.0.0",
			"description": "Replays recorded events in the EventStreams wire format.",
		},
		"paths": paths,
	})
	return b
}
