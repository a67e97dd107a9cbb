package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/sluice-dev/sluice/internal/engine"
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
	queueSize  = 1024            // items between the feed and the writer: bounds memory
	maxBatch   = 500             // events per produce call
	spaceRetry = 5 * time.Second // the longest wait after the stream ran out of space
)

type runner struct {
	spec    Spec
	svc     *stream.Service
	log     *slog.Logger
	m       *Manager // for the pause state
	forget  bool     // removed: Close deletes its pause state
	prev    *Status  // of the source this one replaces: its counts go on
	status  *Status
	pause   chan bool // true: pause, false: resume
	dlq     string
	timePtr string
	n       uint64 // the source's own count of events read, stored with each position
	// confirmed is the feed position up to which everything is stored (or
	// dropped) as far as this process knows; after a failure inside the
	// process the source resumes there, rather than after whatever message
	// landed last, so a publish that failed in the middle of a batch is
	// read again instead of skipped.
	confirmed     string
	confirmedN    uint64
	confirmedData []byte // the data of the event at confirmed (see Resume.Last)
}

// closeTimeout bounds what Close does in the engine.
const closeTimeout = 10 * time.Second

// Run keeps the source going until ctx ends, paused or not as stored.
func (r *runner) Run(ctx context.Context) {
	if r.prev != nil { // it ended: its counts are final
		r.status.carry(r.prev.View())
		r.prev = nil // Run comes again when the source comes back to this node
	}
	// Another node may have run it since the last Run: resume from the
	// stream, as after a restart, not from what this process confirmed.
	r.confirmed, r.confirmedN, r.confirmedData = "", 0, nil
	r.run(ctx, r.m.paused(ctx, r.spec.Name))
}

// Close closes a feed that holds resources; a source that was removed
// also gives up its pause state.
func (r *runner) Close() error {
	var err error
	if c, ok := r.spec.Feed.(io.Closer); ok {
		err = c.Close()
	}
	if r.forget {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if derr := r.m.kv.Delete(ctx, r.spec.Name); derr != nil && !errors.Is(derr, engine.ErrNotFound) {
			err = errors.Join(err, fmt.Errorf("source %q: delete its pause state: %w", r.spec.Name, derr))
		}
	}
	return err
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
			if errors.Is(err, engine.ErrNoSpace) {
				wait = min(wait, spaceRetry) // refused at once, costs nothing: notice soon that space returned
			}
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
// in the stream or its dead letters, whichever it wrote later, and that
// event's data as the feed sent it.
func (r *runner) resume(ctx context.Context) (Resume, error) {
	if r.confirmed != "" {
		r.n = r.confirmedN
		r.status.update(func(v *StatusView) { v.Position = r.confirmed })
		return Resume{Position: r.confirmed, Last: r.confirmedData}, nil
	}
	var best Resume
	var bestN uint64
	for _, s := range []string{r.spec.To, r.dlq} {
		e, ok, err := r.svc.LastFrom(ctx, s, r.spec.Name)
		if err != nil {
			return Resume{}, err
		}
		if !ok {
			continue
		}
		n, feedPos := splitPosition(e.Position)
		if n > bestN || best.Position == "" && feedPos != "" {
			best, bestN = Resume{Position: feedPos, Last: e.Data}, n
			if s == r.dlq {
				best.Last = deadRaw(e.Data)
			}
		}
	}
	r.n = bestN
	r.status.update(func(v *StatusView) { v.Position = best.Position })
	if best.Position != "" {
		r.log.Info("source resuming", "source", r.spec.Name, "after", best.Position)
	}
	return best, nil
}

// deadRaw is the event a dead letter holds as it was received, nil when
// it was cut.
func deadRaw(data []byte) []byte {
	var d stream.DeadLetter
	if json.Unmarshal(data, &d) != nil || len(d.Raw) != d.RawBytes {
		return nil
	}
	return []byte(d.Raw)
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

// store writes a batch in feed order: dropped events are counted, valid
// ones go to the stream and invalid ones to the dead letters, each with its
// position, as consecutive runs written one after the other. So whatever
// fails, the last position stored (in either stream) has everything before
// it stored too. A failure to store (the engine is down) is returned,
// never skipped.
func (r *runner) store(ctx context.Context, batch []Item) error {
	type entry struct {
		raw  []byte
		pos  string
		dead []schema.Violation // nil: valid so far
		feed string
	}
	var entries []entry
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
			entries = append(entries, entry{raw: it.Data, pos: pos, feed: it.Position,
				dead: []schema.Violation{{Keyword: stream.RuleJSON, Message: "not valid JSON: " + err.Error()}}})
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
		entries = append(entries, entry{raw: it.Data, pos: pos, feed: it.Position})
	}
	// Validate first, so the runs are known before anything is written.
	var valid []int
	for i, e := range entries {
		if e.dead == nil {
			valid = append(valid, i)
		}
	}
	if len(valid) > 0 {
		raws := make([][]byte, len(valid))
		for j, i := range valid {
			raws[j] = entries[i].raw
		}
		invalid, err := r.svc.Check(ctx, r.spec.To, raws)
		if err != nil {
			return fmt.Errorf("check against %q: %w", r.spec.To, err)
		}
		for _, inv := range invalid {
			entries[valid[inv.Index]].dead = inv.Errors
		}
	}
	var stored, dups, deadN uint64
	for i := 0; i < len(entries); {
		dead := entries[i].dead != nil
		j := i
		var raws [][]byte
		var poss []string
		for ; j < len(entries) && (entries[j].dead != nil) == dead; j++ {
			e := entries[j]
			raw := e.raw
			if dead {
				dl := stream.NewDeadLetter(r.spec.Name, r.spec.To, e.raw, e.dead)
				dl.Extra = map[string]any{"position": e.feed}
				raw = dl.Marshal()
			}
			raws, poss = append(raws, raw), append(poss, e.pos)
		}
		target := r.spec.To
		if dead {
			target = r.dlq
		}
		res, err := r.svc.ProduceFrom(ctx, target, stream.Origin{Name: r.spec.Name, Positions: poss}, raws)
		if err != nil {
			return fmt.Errorf("store in %q: %w", target, err)
		}
		if len(res.Invalid) > 0 {
			// The schema changed between the check and the write: go round again.
			return fmt.Errorf("%q refused %d event(s) it accepted a moment before (schema changed?): %v", target, len(res.Invalid), res.Invalid[0].Errors)
		}
		if dead {
			deadN += uint64(len(raws))
			r.log.Warn("source dead-lettered events", "source", r.spec.Name, "count", len(raws), "stream", r.dlq)
		} else {
			stored += uint64(res.Accepted - res.Duplicates)
			dups += uint64(res.Duplicates)
		}
		i = j
	}
	last := batch[len(batch)-1].Position
	r.confirmed, r.confirmedN, r.confirmedData = last, r.n, batch[len(batch)-1].Data
	r.status.update(func(v *StatusView) {
		v.EventsIn += uint64(len(batch))
		v.Stored += stored
		v.Duplicates += dups
		v.Dropped += dropped
		v.Unreadable += unreadable
		v.DeadLettered += deadN
		v.Position = last
		if lastTime.After(v.lastEventTimeT) {
			v.lastEventTimeT = lastTime
		}
		if stored > 0 {
			v.storedT = time.Now().UTC()
			v.delay = v.storedT.Sub(v.lastEventTimeT)
		}
	})
	return nil
}
