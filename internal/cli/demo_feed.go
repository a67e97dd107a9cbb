package cli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	wikiimages "github.com/sluice-dev/sluice/examples/wiki-images"
	"github.com/sluice-dev/sluice/internal/wikisim/eventstreams"
	"github.com/sluice-dev/sluice/internal/wikisim/history"
	"github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// demoClock gives the demo feed's events their times. On a fresh start
// (the replay's first event is offset 0), the first historyN events are
// spread over the hour (history) before start, so there is something to ask
// "an hour ago" about, and go out at once; every later event is due rate
// per second from start on. After a restart (the source resumes after a
// stored position), events continue from start at rate. No event goes out
// before its time, so every time a process gave is before the next process's
// start: times grow along the feed, across restarts too.
type demoClock struct {
	start    time.Time
	rate     float64
	history  time.Duration
	historyN int64

	mu     sync.Mutex
	n0     int64 // the first offset asked for
	anchor bool
}

func (c *demoClock) Time(n int64) time.Time {
	c.mu.Lock()
	if !c.anchor {
		c.anchor, c.n0 = true, n
	}
	n0 := c.n0
	c.mu.Unlock()
	live := n0
	if n0 == 0 && c.historyN > 0 {
		if n < c.historyN {
			return c.start.Add(-c.history + time.Duration(n)*c.history/time.Duration(c.historyN))
		}
		live = c.historyN
	}
	return c.start.Add(time.Duration(float64(n-live) / c.rate * float64(time.Second)))
}

// demoOptions configure the demo's stand-ins.
type demoOptions struct {
	rate     float64       // events per second of the replayed feed
	history  time.Duration // backfilled on a fresh start; 0: none
	latency  time.Duration // of the simulated MediaWiki API
	mode     string        // of the function; "": revision for the built-in project
	replayAt string        // listen addresses ("127.0.0.1:0": any port)
	apiAt    string
}

// historyRate is the density of the backfilled hour: one event a second.
const historyRate = 1.0

// standIns are the demo's replayed feed and simulated API, served on
// loopback in the process.
type standIns struct {
	recorded [][]byte         // one loop of the feed
	history  *history.History // how its pages evolve from loop to loop
	feedURL  string
	apiURL   string
	replay   *eventstreams.Server
	sim      *mediawiki.Server
	servers  []*http.Server
	closeFns []func()
}

// startStandIns serves the embedded recorded events (looped, restamped
// by a demoClock, their pages evolving by a history.History) and the
// simulated MediaWiki API, which answers by the same history, on loopback.
func startStandIns(o demoOptions) (*standIns, error) {
	evs, err := eventstreams.LoadFS(wikiimages.Recorded(), wikiimages.RecordedFiles...)
	if err != nil {
		return nil, err
	}
	clock := &demoClock{start: time.Now(), rate: o.rate, history: o.history,
		historyN: int64(o.history.Seconds() * historyRate)}
	s := &standIns{recorded: evs, history: history.New(evs, clock.Time)}
	s.replay = eventstreams.New(evs, eventstreams.Options{Loop: true, Clock: clock.Time, Rewrite: s.history.Rewrite})
	s.sim = mediawiki.New(mediawiki.Options{Latency: o.latency, Timeline: s.history})
	feedAddr, err := s.serve(o.replayAt, s.replay, s.replay.Close)
	if err != nil {
		return nil, err
	}
	apiAddr, err := s.serve(o.apiAt, s.sim, s.sim.Close)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.feedURL = "http://" + feedAddr + "/v2/stream/recentchange"
	s.apiURL = "http://" + apiAddr
	return s, nil
}

func (s *standIns) serve(addr string, h http.Handler, closeFn func()) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			ln.Close()
		}
	}()
	s.servers = append(s.servers, hs)
	s.closeFns = append(s.closeFns, closeFn)
	return ln.Addr().String(), nil
}

// Close ends open feeds and requests, then the HTTP servers.
func (s *standIns) Close() {
	for _, f := range s.closeFns {
		f()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, hs := range s.servers {
		_ = hs.Shutdown(ctx)
	}
}
