package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/sluice-dev/sluice/internal/filter"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
)

// Spec is a configured source.
type Spec struct {
	Name string
	Kind string // "sse", "file"
	To   string // the stream it writes
	Drop *filter.Filter
	Feed Feed
}

const (
	queueSize = 1024 // items between the feed and the writer: bounds memory
	maxBatch  = 500  // events per produce call
)

type runner struct {
	spec    Spec
	svc     *stream.Service
	log     *slog.Logger
	status  *Status
	pause   chan bool // true: pause, false: resume
	dlq     string
	timePtr string
	n       uint64 // the source's own count of events read, stored with each position
}

// run keeps the source going until ctx ends.
func (r *runner) run(ctx context.Context, paused bool) {
	r.status.update(func(v *StatusView) { v.Paused = paused })
	b := backoff.NewExponentialBackOff()
	b.MaxInterval = time.Minute
	for ctx.Err() == nil {
		err := r.session(ctx, &paused)
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, ErrFinished):
			r.status.Set(Finished)
			r.log.Info("source finished", "source", r.spec.Name)
			if !r.waitPause(ctx, &paused, false) {
				return
			}
		case errors.Is(err, errPaused):
			r.status.Set(Paused)
			if !r.waitPause(ctx, &paused, true) {
				return
			}
		case err != nil:
			r.status.Error(err)
			wait := b.NextBackOff()
			r.status.BackOff(time.Now().Add(wait))
			r.log.Warn("source failed; retrying", "source", r.spec.Name, "err", err, "in", wait)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			case p := <-r.pause:
				paused = p
			}
		}
	}
	r.status.Set(Stopped)
}

var errPaused = errors.New("paused")

// waitPause blocks until the source is resumed (or, when !paused, paused
// and then resumed). It reports false when ctx ends.
func (r *runner) waitPause(ctx context.Context, paused *bool, wantResume bool) bool {
	for {
		if wantResume && !*paused {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case p := <-r.pause:
			*paused = p
			r.status.update(func(v *StatusView) { v.Paused = p })
			if p {
				r.status.Set(Paused)
				wantResume = true
			}
		}
	}
}

// session resumes from the stored position and writes what the feed reads
// until ctx ends, the feed finishes, or the source is paused.
func (r *runner) session(ctx context.Context, paused *bool) error {
	if *paused {
		return errPaused
	}
	r.status.Set(Starting)
	if r.dlq == "" {
		def, err := r.svc.Get(ctx, r.spec.To)
		if err != nil {
			return fmt.Errorf("stream %q: %w", r.spec.To, err)
		}
		r.timePtr = def.Time
		if r.dlq, err = r.svc.EnsureDeadLetters(ctx, r.spec.To); err != nil {
			return err
		}
	}
	from, err := r.resume(ctx)
	if err != nil {
		return err
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan Item, queueSize)
	done := make(chan error, 1)
	go func() {
		err := r.spec.Feed.Run(fctx, from, items, r.status)
		close(items)
		done <- err
	}()
	stop := func() error { // end the feed and wait for it
		cancel()
		for range items {
		}
		return <-done
	}
	batch := make([]Item, 0, maxBatch)
	for {
		select {
		case <-ctx.Done():
			stop()
			return nil
		case p := <-r.pause:
			if p {
				*paused = true
				r.status.update(func(v *StatusView) { v.Paused = true })
				stop()
				return errPaused
			}
		case it, ok := <-items:
			if !ok {
				return <-done
			}
			batch = append(batch[:0], it)
		drain:
			for len(batch) < maxBatch {
				select {
				case it, ok := <-items:
					if !ok {
						break drain
					}
					batch = append(batch, it)
				default:
					break drain
				}
			}
			if err := r.store(ctx, batch); err != nil {
				stop()
				return err
			}
		}
	}
}

// resume finds the position stored with the last event this source wrote,
// in the stream or its dead letters, whichever it wrote later.
func (r *runner) resume(ctx context.Context) (string, error) {
	var best string
	var bestN uint64
	for _, s := range []string{r.spec.To, r.dlq} {
		pos, _, err := r.svc.LastPosition(ctx, s, r.spec.Name)
		if err != nil {
			return "", err
		}
		n, feedPos := splitPosition(pos)
		if n > bestN || best == "" && feedPos != "" {
			best, bestN = feedPos, n
		}
	}
	r.n = bestN
	r.status.update(func(v *StatusView) { v.Position = best })
	if best != "" {
		r.log.Info("source resuming", "source", r.spec.Name, "after", best)
	}
	return best, nil
}

func splitPosition(p string) (uint64, string) {
	num, rest, ok := strings.Cut(p, " ")
	if !ok {
		return 0, ""
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, ""
	}
	return n, rest
}

// store writes a batch: dropped events are counted, valid ones go to the
// stream, invalid ones to the dead letters, each with its position. A
// failure to store (the engine is down) is returned, never skipped.
func (r *runner) store(ctx context.Context, batch []Item) error {
	var raws, dead [][]byte
	var poss, deadPoss []string
	var lastTime time.Time
	var dropped, unreadable uint64
	for _, it := range batch {
		r.n++
		pos := strconv.FormatUint(r.n, 10) + " " + it.Position
		if it.Err != nil {
			unreadable++
			r.status.Error(it.Err)
			r.log.Warn("source skipped an unreadable event", "source", r.spec.Name, "err", it.Err, "position", it.Position)
			continue
		}
		doc, err := schema.Decode(it.Data)
		if err != nil {
			dl := stream.NewDeadLetter(r.spec.Name, r.spec.To, it.Data, []schema.Violation{{Keyword: stream.RuleJSON, Message: "not valid JSON: " + err.Error()}})
			dl.Extra = map[string]any{"position": it.Position}
			dead, deadPoss = append(dead, dl.Marshal()), append(deadPoss, pos)
			continue
		}
		if t, ok := schema.Lookup(doc, r.timePtr); ok {
			if ts, ok := t.(string); ok {
				if tt, err := time.Parse(time.RFC3339Nano, ts); err == nil && tt.After(lastTime) {
					lastTime = tt
				}
			}
		}
		if r.spec.Drop != nil {
			if drop, err := r.spec.Drop.Match(doc); err == nil && drop {
				dropped++
				continue
			}
		}
		raws, poss = append(raws, it.Data), append(poss, pos)
	}
	var res stream.Result
	if len(raws) > 0 {
		var err error
		if res, err = r.svc.ProduceFrom(ctx, r.spec.To, stream.Origin{Name: r.spec.Name, Positions: poss}, raws); err != nil {
			return fmt.Errorf("store in %q: %w", r.spec.To, err)
		}
		for _, inv := range res.Invalid {
			dl := stream.NewDeadLetter(r.spec.Name, r.spec.To, raws[inv.Index], inv.Errors)
			dl.Extra = map[string]any{"position": strings.SplitN(poss[inv.Index], " ", 2)[1]}
			dead, deadPoss = append(dead, dl.Marshal()), append(deadPoss, poss[inv.Index])
		}
	}
	if len(dead) > 0 {
		dres, err := r.svc.ProduceFrom(ctx, r.dlq, stream.Origin{Name: r.spec.Name, Positions: deadPoss}, dead)
		if err != nil {
			return fmt.Errorf("store dead letters in %q: %w", r.dlq, err)
		}
		if len(dres.Invalid) > 0 {
			return fmt.Errorf("dead letter refused by %q: %v", r.dlq, dres.Invalid[0].Errors)
		}
		r.log.Warn("source dead-lettered events", "source", r.spec.Name, "count", len(dead), "stream", r.dlq)
	}
	last := batch[len(batch)-1].Position
	r.status.update(func(v *StatusView) {
		v.EventsIn += uint64(len(batch))
		v.Stored += uint64(res.Accepted - res.Duplicates)
		v.Duplicates += uint64(res.Duplicates)
		v.Dropped += dropped
		v.Unreadable += unreadable
		v.DeadLettered += uint64(len(dead))
		v.Position = last
		if lastTime.After(v.lastEventTimeT) {
			v.lastEventTimeT = lastTime
		}
	})
	return nil
}
