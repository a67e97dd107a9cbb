package mediawiki

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/function"
	sim "github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// Requests in flight to one wiki never exceed max_concurrency_per_wiki,
// while other wikis are served at the same time.
func TestConcurrencyPerWiki(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		limit int
	}{{"current", 1}, {"current", 2}, {"revision", 2}, {"revision", 3}} {
		t.Run(tc.mode+"/"+itoa(int64(tc.limit)), func(t *testing.T) {
			e := start(t, sim.Options{Latency: 20 * time.Millisecond})
			f := newFunc(t, e, map[string]any{"mode": tc.mode, "max_concurrency_per_wiki": tc.limit, "batch_size": 2})
			var events []map[string]any
			for _, host := range []string{en, de} {
				for i, title := range titlesN("Page", 24) {
					events = append(events, edit(e, host, title, int64(5000+i)))
				}
			}
			outputs(t, call(t, context.Background(), f, events))
			for _, host := range []string{en, de} {
				if p, n := e.peakOf(host), len(e.requests(host)); p != tc.limit || n < 12 {
					t.Errorf("%s: at most %d in flight over %d requests, want exactly %d at most", host, p, n, tc.limit)
				}
			}
		})
	}
}

// rate_per_wiki spaces the requests of one wiki.
func TestRatePerWiki(t *testing.T) {
	e := start(t, sim.Options{})
	f := newFunc(t, e, map[string]any{"rate_per_wiki": 10, "batch_size": 1, "max_concurrency_per_wiki": 5})
	began := time.Now()
	outputs(t, call(t, context.Background(), f, edits(e, en, titlesN("Page", 6)...)))
	if took := time.Since(began); took < 450*time.Millisecond {
		t.Fatalf("6 requests at 10/s took %v", took)
	}
}

// Cancelling the context ends a call promptly, with the context's error for
// every event, and leaves no goroutine behind.
func TestCancel(t *testing.T) {
	for _, mode := range []string{"current", "revision"} {
		t.Run(mode, func(t *testing.T) {
			e := start(t, sim.Options{Latency: 10 * time.Second})
			f := newFunc(t, e, map[string]any{"mode": mode})
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			began := time.Now()
			res := call(t, ctx, f, edits(e, en, titlesN("Page", 120)...))
			if took := time.Since(began); took > 2*time.Second {
				t.Fatalf("took %v", took)
			}
			for i, r := range res {
				if !errors.Is(r.Err, context.Canceled) {
					t.Fatalf("event %d: %v", i, r.Err)
				}
			}
			_ = f.Close()
		})
	}
}

// blockWiki makes requests for host wait until the returned release is
// called (or the client leaves); then the simulator answers them.
func blockWiki(e *env, host string) (release func()) {
	ch := make(chan struct{})
	e.answerWith(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/"+host+"/w/api.php" {
			select {
			case <-ch:
			case <-r.Context().Done():
			}
		}
		return false
	})
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// busy starts a call on wiki de that stays in flight until release, so
// that the function is busy and partial batches wait for linger.
func busy(t *testing.T, e *env, f *pageImages) (release func()) {
	t.Helper()
	unblock := blockWiki(e, de)
	var wg sync.WaitGroup
	wg.Go(func() {
		if res := call(t, context.Background(), f, edits(e, de, "Busy")); res[0].Err != nil {
			t.Errorf("busy call: %v", res[0].Err)
		}
	})
	waitFor(t, "the busy call", func() bool { return f.active.Load() == 1 && e.peakOf(de) == 1 })
	return func() { unblock(); wg.Wait() }
}

// openTitles is the number of titles in the open batch of host.
func openTitles(t *testing.T, f *pageImages, e *env, host string) int {
	api, err := f.hosts.endpoint(e.serverURL(host), "/w")
	if err != nil {
		t.Fatal(err)
	}
	w := f.wikiFor(job{api: api})
	w.batches.mu.Lock()
	defer w.batches.mu.Unlock()
	if w.batches.open == nil {
		return 0
	}
	return len(w.batches.open.titles)
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// checkTitles checks the simulator's requests for en against want.
func checkTitles(t *testing.T, e *env, want ...[]string) {
	t.Helper()
	var got [][]string
	for _, r := range e.requests(en) {
		got = append(got, slices.Sorted(slices.Values(r.Titles)))
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("requests for %q, want %q", got, want)
	}
}

// A call's titles fill the open batch of a concurrent call: one request.
func TestSharedBatchFills(t *testing.T) {
	e := start(t, sim.Options{})
	f := newFunc(t, e, map[string]any{"batch_size": 8, "linger": "1h"})
	release := busy(t, e, f)
	defer release()
	all := titlesN("Shared", 8)
	var wg sync.WaitGroup
	var resA, resB []function.Result
	wg.Go(func() { resA = call(t, context.Background(), f, edits(e, en, all[:5]...)) })
	waitFor(t, "A's batch", func() bool { return openTitles(t, f, e, en) == 5 })
	wg.Go(func() { resB = call(t, context.Background(), f, edits(e, en, all[2:]...)) })
	wg.Wait()
	outputs(t, resA)
	outputs(t, resB)
	checkTitles(t, e, all)
}

// A partial batch is sent after linger, with the titles of every call that
// joined it meanwhile.
func TestLingerSendsPartialBatch(t *testing.T) {
	e := start(t, sim.Options{})
	f := newFunc(t, e, map[string]any{"linger": "300ms"})
	release := busy(t, e, f)
	defer release()
	all := titlesN("Linger", 5)
	began := time.Now()
	var wg sync.WaitGroup
	var resA, resB []function.Result
	wg.Go(func() { resA = call(t, context.Background(), f, edits(e, en, all[:3]...)) })
	waitFor(t, "A's batch", func() bool { return openTitles(t, f, e, en) == 3 })
	wg.Go(func() { resB = call(t, context.Background(), f, edits(e, en, all[3:]...)) })
	wg.Wait()
	if took := time.Since(began); took < 300*time.Millisecond {
		t.Fatalf("sent after %v", took)
	}
	outputs(t, resA)
	outputs(t, resB)
	checkTitles(t, e, all)
}

// If the call leading a batch leaves, the others in it send their titles
// themselves.
func TestLeaderLeaves(t *testing.T) {
	e := start(t, sim.Options{})
	f := newFunc(t, e, map[string]any{"linger": "1s"})
	release := busy(t, e, f)
	defer release()
	all := titlesN("Left", 7)
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	var wg sync.WaitGroup
	var resA, resB []function.Result
	wg.Go(func() { resA = call(t, ctxA, f, edits(e, en, all[:5]...)) })
	waitFor(t, "A's batch", func() bool { return openTitles(t, f, e, en) == 5 })
	wg.Go(func() { resB = call(t, context.Background(), f, edits(e, en, all[2:]...)) })
	waitFor(t, "B joining", func() bool { return openTitles(t, f, e, en) == 7 })
	cancelA()
	wg.Wait()
	for i, r := range resA {
		if !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("A's event %d: %v", i, r.Err)
		}
	}
	for i, o := range outputs(t, resB) {
		if o.Title != all[2+i] || o.PageID != itoa(sim.PageID(en, all[2+i])) {
			t.Fatalf("B's event %d: %+v", i, o)
		}
	}
	checkTitles(t, e, all[2:])
}
