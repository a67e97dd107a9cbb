// Package mediawiki is a stand-in for the MediaWiki Action API (api.php) of
// Wikimedia wikis, for tests, demos and benchmarks. One Server serves every
// wiki: the wiki is the host named by the path /{host}/w/api.php or, for
// /w/api.php, by the Host header. Its pages are generated (see Wiki), so a
// test knows the truth for any title without loading data.
//
// It answers format=json&formatversion=2, GET or POST (form or multipart),
// with the real API's shapes and error codes for:
//
//	action=query&prop=images&titles=A|B (or pageids=1|2) [&redirects] [&imlimit=N|max] [&imcontinue=...&continue=||]
//	action=parse&oldid=REV&prop=images
//
// and, for any action, maxlag=N. Other actions, props and formats are
// refused with HTTP 400 and a plain-text reason, so a client that depends on
// something not simulated finds out at once. Options add latency and faults.
package mediawiki

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server. The faults count requests over the server's
// life (from 1, every request to the server); when several fall on the same
// request, 503 wins over 429, and 429 over maxlag.
type Options struct {
	Latency        time.Duration // added before every answer
	Status5xxEvery int           // every Nth request gets 503 Service Unavailable
	Status429Every int           // every Nth request gets 429 Too Many Requests with Retry-After
	// MaxlagEvery makes every Nth request answer the "maxlag" API error
	// (HTTP 200, Retry-After and X-Database-Lag) if it carries maxlag=M with
	// M below Lag, as when replicas lag. A request without maxlag is served,
	// as the real API serves it.
	MaxlagEvery int
	Lag         int // seconds of replica lag reported; 0 means 7
	RetryAfter  int // seconds in Retry-After (maxlag and 429); 0 means 1

	// ImLimit caps imlimit, "max" included, so that tests see continuation
	// with few images; 0 means no cap beyond the real 500.
	ImLimit int

	Missing          []PageRef          // missing pages, besides titles starting with "Missing"
	Redirects        map[PageRef]string // redirects, besides titles starting with "Redirect to "
	MissingRevisions []int64            // revision ids that do not exist

	// Timeline, if set, makes pages evolve as a replayed feed edits them
	// (see Timeline).
	Timeline Timeline
}

// Server serves the simulated Action API. It is an http.Handler.
type Server struct {
	wiki            *Wiki
	lag, retryAfter int

	// The settings that can change at run time, and the request count.
	latency, every5xx, every429, everyMaxlag, imCap atomic.Int64
	count                                           atomic.Int64

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	requests []Request // a ring of the latest maxRequests
	next     int       // where the next one goes once the ring is full
}

// New returns a Server with a new Wiki configured by o.
func New(o Options) *Server {
	s := &Server{wiki: NewWiki(), lag: o.Lag, retryAfter: o.RetryAfter}
	s.wiki.timeline = o.Timeline
	if s.lag <= 0 {
		s.lag = 7
	}
	if s.retryAfter <= 0 {
		s.retryAfter = 1
	}
	for _, p := range o.Missing {
		s.wiki.SetMissing(p.Host, p.Title, true)
	}
	for p, to := range o.Redirects {
		s.wiki.SetRedirect(p.Host, p.Title, to)
	}
	for _, r := range o.MissingRevisions {
		s.wiki.SetRevisionMissing(r, true)
	}
	s.SetLatency(o.Latency)
	s.SetStatus5xxEvery(o.Status5xxEvery)
	s.SetStatus429Every(o.Status429Every)
	s.SetMaxlagEvery(o.MaxlagEvery)
	s.SetImLimit(o.ImLimit)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Wiki is the simulated wikis' state, to change while running or to compute
// what the server answers.
func (s *Server) Wiki() *Wiki { return s.wiki }

// SetLatency changes Options.Latency.
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(max(d, 0))) }

// SetStatus5xxEvery changes Options.Status5xxEvery (0 turns it off).
func (s *Server) SetStatus5xxEvery(n int) { s.every5xx.Store(int64(max(n, 0))) }

// SetStatus429Every changes Options.Status429Every (0 turns it off).
func (s *Server) SetStatus429Every(n int) { s.every429.Store(int64(max(n, 0))) }

// SetMaxlagEvery changes Options.MaxlagEvery (0 turns it off).
func (s *Server) SetMaxlagEvery(n int) { s.everyMaxlag.Store(int64(max(n, 0))) }

// SetImLimit changes Options.ImLimit (0 removes the cap).
func (s *Server) SetImLimit(n int) { s.imCap.Store(int64(max(n, 0))) }

// Close makes waiting and later requests answer 503. It does not stop an
// http.Server that serves s.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// ServeHTTP serves /w/api.php and /{host}/w/api.php.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.count.Add(1)
	rec := Request{Method: r.Method, UserAgent: r.UserAgent()}
	defer func() { s.record(rec) }()
	host, ok := wikiHost(r)
	rec.Host = host
	if !ok {
		rec.Status = plain(w, http.StatusNotFound, "not found: "+r.URL.Path)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		rec.Status = plain(w, http.StatusMethodNotAllowed, "only GET and POST are served")
		return
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		rec.Status = plain(w, http.StatusBadRequest, "bad form: "+err.Error())
		return
	}
	f := r.Form
	rec.Action, rec.List, rec.OldID, rec.IMContinue = f.Get("action"), f.Get("list"), f.Get("oldid"), f.Get("imcontinue")
	rec.Titles, rec.PageIDs = split(f, "titles"), split(f, "pageids")
	rec.Redirects, rec.Maxlag = f.Has("redirects"), f.Has("maxlag")

	if !s.wait(r.Context()) {
		rec.Status = plain(w, http.StatusServiceUnavailable, "the server is closed")
		return
	}
	switch {
	case due(n, &s.every5xx):
		rec.Status = plain(w, http.StatusServiceUnavailable, "Service Temporarily Unavailable (simulated)")
		return
	case due(n, &s.every429):
		w.Header().Set("Retry-After", strconv.Itoa(s.retryAfter))
		rec.Status = plain(w, http.StatusTooManyRequests, "Too Many Requests (simulated)")
		return
	}
	body, err := s.answer(host, f, due(n, &s.everyMaxlag))
	rec.Status, rec.Error = s.write(w, body, err)
}

// answer dispatches on the parameters; lagged says the maxlag fault is due.
func (s *Server) answer(host string, f url.Values, lagged bool) (any, error) {
	if f.Get("format") != "json" || f.Get("formatversion") != "2" {
		return nil, unsupported("only format=json&formatversion=2 is simulated")
	}
	if f.Has("maxlag") {
		m, err := strconv.Atoi(f.Get("maxlag"))
		if err != nil {
			return nil, badInteger("maxlag", f.Get("maxlag"))
		}
		if lagged && m < s.lag {
			return nil, &apiError{Code: "maxlag", Host: "10.64.0.1", Lag: s.lag, Type: "db",
				Info: "Waiting for 10.64.0.1: " + strconv.Itoa(s.lag) + " seconds lagged."}
		}
	}
	switch a := f.Get("action"); a {
	case "query":
		return s.query(host, f)
	case "parse":
		return s.parse(host, f)
	case "":
		return nil, unsupported("the help page (no action) is not simulated")
	default:
		return nil, &apiError{Code: "badvalue", Info: `Unrecognized value for parameter "action": ` + a + "."}
	}
}

// write sends body, or err as the real API (or the simulator) reports it,
// and returns the status and API error code sent.
func (s *Server) write(w http.ResponseWriter, body any, err error) (int, string) {
	var u unsupported
	if errors.As(err, &u) {
		return plain(w, http.StatusBadRequest, "mediawiki simulator: "+string(u)), ""
	}
	var ae *apiError
	code := ""
	if errors.As(err, &ae) {
		code = ae.Code
		body = map[string]any{"error": ae}
		w.Header().Set("MediaWiki-API-Error", code)
		if code == "maxlag" {
			w.Header().Set("Retry-After", strconv.Itoa(s.retryAfter))
			w.Header().Set("X-Database-Lag", strconv.Itoa(ae.Lag))
		}
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
	return http.StatusOK, code
}

// wait sleeps for the latency; false if the server closed (before or while
// waiting) or the client left.
func (s *Server) wait(ctx context.Context) bool {
	if d := time.Duration(s.latency.Load()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		case <-s.ctx.Done():
			return false
		}
	}
	return !s.isClosed()
}

// due reports whether request n falls on the fault's cycle.
func due(n int64, every *atomic.Int64) bool {
	e := every.Load()
	return e > 0 && n%e == 0
}

// wikiHost is the wiki a request is for, and false for a path not served.
func wikiHost(r *http.Request) (string, bool) {
	prefix, ok := strings.CutSuffix(r.URL.Path, "/w/api.php")
	if !ok {
		return "", false
	}
	if prefix != "" {
		h := strings.TrimPrefix(prefix, "/")
		return strings.ToLower(h), h != "" && !strings.Contains(h, "/")
	}
	h := r.Host
	if name, _, err := net.SplitHostPort(h); err == nil {
		h = name
	}
	return strings.ToLower(h), true
}

// plain answers a text/plain status and returns the status.
func plain(w http.ResponseWriter, status int, msg string) int {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
	return status
}
