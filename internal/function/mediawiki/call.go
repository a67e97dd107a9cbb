package mediawiki

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/sluice-dev/sluice/internal/function"
)

// pageImages is the function. It keeps per-wiki limits and batches, and one
// HTTP transport whose idle connections are reused across calls (Close
// closes them).
type pageImages struct {
	settings
	client         *http.Client
	transport      *http.Transport
	backoffInitial time.Duration // first exponential backoff interval
	active         atomic.Int64  // Calls running

	mu    sync.Mutex
	wikis map[string]*wiki // by api.php URL
}

// New builds the function from c (see DefaultConfig for the defaults);
// errors name the field.
func New(c Config) (function.Function, error) {
	s, err := c.validate()
	if err != nil {
		return nil, err
	}
	f := &pageImages{settings: s, backoffInitial: 500 * time.Millisecond, wikis: map[string]*wiki{}}
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		f.transport = t.Clone() // proxy settings from the environment, HTTP/2, dial timeouts
	} else {
		f.transport = &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true, TLSHandshakeTimeout: 10 * time.Second}
	}
	f.transport.MaxIdleConnsPerHost = s.concurrency
	if s.apiBase != nil {
		f.transport.MaxIdleConnsPerHost = 16 * s.concurrency // every wiki behind one host
	}
	f.transport.IdleConnTimeout = 30 * time.Second
	f.client = &http.Client{Transport: f.transport, CheckRedirect: f.checkRedirect}
	return f, nil
}

// checkRedirect follows a redirect only to an allowed host.
func (f *pageImages) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return errors.New("more than 3 redirects")
	}
	if f.apiBase != nil && strings.EqualFold(req.URL.Host, f.apiBase.Host) && req.URL.Scheme == f.apiBase.Scheme {
		return nil
	}
	return f.hosts.check(req.URL)
}

// Close closes the idle connections kept for later calls.
func (f *pageImages) Close() error {
	f.transport.CloseIdleConnections()
	return nil
}

// wikiFor is the state of the wiki whose API is at api.
func (f *pageImages) wikiFor(j job) *wiki {
	key := j.api.String()
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.wikis[key]
	if w == nil {
		w = &wiki{api: j.api, sem: make(chan struct{}, f.concurrency)}
		if f.rate > 0 {
			w.limit = rate.NewLimiter(rate.Limit(f.rate), 1)
		}
		f.wikis[key] = w
	}
	return w
}

// Call returns one result per event, in order: one output event, or the
// reason there is none.
func (f *pageImages) Call(ctx context.Context, events []json.RawMessage) []function.Result {
	f.active.Add(1)
	defer f.active.Add(-1)
	res := make([]function.Result, len(events))
	jobs := make([]job, len(events))
	type revKey struct {
		w   *wiki
		rev int64
	}
	titles := map[*wiki]map[string][]int{} // mode current: wiki → title → events
	revs := map[revKey][]int{}             // mode revision: revision → events
	var deletions []int                    // page deletions: their log entries
	for i, raw := range events {
		j, err := f.prepare(raw)
		switch {
		case err != nil:
			res[i].Err = err
		case j.deleted && j.api == nil:
			res[i].Outputs, res[i].Err = emit(j, pageResult{missing: true, at: time.Now()})
		case j.deleted:
			jobs[i] = j
			deletions = append(deletions, i)
		case f.mode == ModeRevision:
			jobs[i] = j
			k := revKey{f.wikiFor(j), j.rev}
			revs[k] = append(revs[k], i)
		default:
			jobs[i] = j
			w := f.wikiFor(j)
			if titles[w] == nil {
				titles[w] = map[string][]int{}
			}
			titles[w][j.ev.Title] = append(titles[w][j.ev.Title], i)
		}
	}
	var wg sync.WaitGroup
	for w, byTitle := range titles {
		wg.Go(func() {
			names := make([]string, 0, len(byTitle))
			for t := range byTitle {
				names = append(names, t)
			}
			pages := f.lookup(ctx, w, sortedUnique(names))
			for t, idx := range byTitle {
				for _, i := range idx {
					res[i].Outputs, res[i].Err = emit(jobs[i], pages[t])
				}
			}
		})
	}
	for _, i := range deletions {
		wg.Go(func() {
			j := jobs[i]
			res[i].Outputs, res[i].Err = emit(j, f.deletedPage(ctx, f.wikiFor(j), j))
		})
	}
	for k, idx := range revs {
		wg.Go(func() {
			p := f.parseRevision(ctx, k.w, k.rev)
			for _, i := range idx {
				res[i].Outputs, res[i].Err = emit(jobs[i], p)
			}
		})
	}
	wg.Wait()
	return res
}
