package mediawiki

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Batching in mode current. Within one Call every title is known at once,
// so a Call cuts its titles of a wiki into batches of batch_size and sends
// them at once. Concurrent Calls share batches: titles join the wiki's open
// batch, and the Call that opened it (its leader) sends it when it is full
// or, if other Calls are running, after linger. The leader sends the batch
// in its own goroutine, so nothing outlives a Call; if the leader's context
// ends first, the batch is abandoned and the other Calls in it send their
// titles again.

// batch is the titles of one wiki sent in one request (and its
// continuations).
type batch struct {
	titles []string        // unique; appended under batcher.mu while open
	has    map[string]bool // titles, as a set
	full   chan struct{}   // closed when it holds batch_size titles
	done   chan struct{}   // closed when pages or err is set
	pages  map[string]pageResult
	err    error
}

// batcher holds the open batch of one wiki.
type batcher struct {
	mu   sync.Mutex
	open *batch
}

// share is a Call's part in a batch.
type share struct {
	b      *batch
	lead   bool     // this Call opened it and sends it
	titles []string // this Call's titles in it
}

// errAbandoned marks a batch whose leader left before it was answered.
var errAbandoned = errors.New("batch abandoned by the call that led it")

// join puts titles (no repeats) into open batches, opening new ones as
// needed, and returns the Call's shares.
func (q *batcher) join(titles []string, size int) []share {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []share
	for len(titles) > 0 {
		s := share{b: q.open}
		if s.b == nil {
			s.b = &batch{has: map[string]bool{}, full: make(chan struct{}), done: make(chan struct{})}
			s.lead = true
			q.open = s.b
		}
		for len(titles) > 0 && len(s.b.titles) < size {
			t := titles[0]
			titles = titles[1:]
			if !s.b.has[t] {
				s.b.has[t] = true
				s.b.titles = append(s.b.titles, t)
			}
			s.titles = append(s.titles, t)
		}
		if len(s.b.titles) >= size {
			close(s.b.full)
			q.open = nil
		}
		out = append(out, s)
	}
	return out
}

// seal takes b out of reach of new titles.
func (q *batcher) seal(b *batch) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.open == b {
		q.open = nil
	}
}

// lookup answers titles (no repeats) of wiki w.
func (f *pageImages) lookup(ctx context.Context, w *wiki, titles []string) map[string]pageResult {
	out := make(map[string]pageResult, len(titles))
	for len(titles) > 0 {
		shares := w.batches.join(titles, f.batchSize)
		titles = nil
		var wg sync.WaitGroup
		for _, s := range shares {
			if s.lead {
				wg.Go(func() { f.send(ctx, w, s.b) })
			}
		}
		for _, s := range shares {
			select {
			case <-s.b.done:
			case <-ctx.Done():
			}
			for _, t := range s.titles {
				switch {
				case ctx.Err() != nil:
					out[t] = pageResult{err: context.Cause(ctx)}
				case errors.Is(s.b.err, errAbandoned):
					titles = append(titles, t) // send again, in a batch of our own or another's
				case s.b.err != nil:
					out[t] = pageResult{err: s.b.err}
				default:
					out[t] = s.b.pages[t]
				}
			}
		}
		wg.Wait()
	}
	return out
}

// send waits for b to fill (if other Calls could add to it), then asks the
// API for its titles.
func (f *pageImages) send(ctx context.Context, w *wiki, b *batch) {
	defer close(b.done)
	if f.linger > 0 && f.active.Load() > 1 {
		t := time.NewTimer(f.linger)
		select {
		case <-b.full:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	w.batches.seal(b)
	if ctx.Err() != nil {
		b.err = fmt.Errorf("%w: %w", errAbandoned, context.Cause(ctx))
		return
	}
	b.pages, b.err = f.queryTitles(ctx, w, b.titles)
	if b.err != nil && ctx.Err() != nil {
		b.err = fmt.Errorf("%w: %w", errAbandoned, context.Cause(ctx))
	}
}
