package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
)

// countsEvery bounds how often a pipeline stores its totals: at most once
// a second, and once more when it stops running here. A crash loses the
// counts of at most the last second (the inputs stay done).
const countsEvery = time.Second

// countsKey is where a pipeline's totals are kept, in the pause state's
// bucket: beside its position (its consumer), shared by every node that
// runs it in turn.
func countsKey(pipeline string) string { return pipeline + ".counts" }

// counts are a pipeline's totals of inputs and outputs.
type counts struct {
	Processed uint64 `json:"processed"`
	Filtered  uint64 `json:"filtered"`
	Failed    uint64 `json:"failed"`
	Outputs   uint64 `json:"outputs"`
	// Since is when the totals began: the pipeline's first run that kept them.
	Since time.Time `json:"since"`
	// Writer and Write name the last store (a runner's tag and its count
	// of stores), so a store whose answer was lost is recognized when read
	// back, not added a second time.
	Writer string `json:"writer,omitempty"`
	Write  uint64 `json:"write,omitempty"`
}

func (c *counts) add(d counts, sign int) {
	if sign < 0 {
		c.Processed, c.Filtered, c.Failed, c.Outputs = c.Processed-d.Processed, c.Filtered-d.Filtered, c.Failed-d.Failed, c.Outputs-d.Outputs
		return
	}
	c.Processed, c.Filtered, c.Failed, c.Outputs = c.Processed+d.Processed, c.Filtered+d.Filtered, c.Failed+d.Failed, c.Outputs+d.Outputs
}

func (c counts) zero() bool { return c.Processed|c.Filtered|c.Failed|c.Outputs == 0 }

// tally is what a status keeps of the totals: the stored ones as last
// read or written, and what this runner counted since (not yet stored).
// Stores add the unstored counts to whatever is stored at the time, with
// the revision as a guard: nodes that run the pipeline one after the
// other (or, during a takeover, for a moment both) never overwrite each
// other's counts, and each input is counted by the node whose
// acknowledgement went through.
type tally struct {
	stored  counts
	rev     uint64 // of stored; 0: the key does not exist
	loaded  bool   // stored was read since the run began
	delta   counts // counted here, not yet stored
	at      time.Time
	tag     string // names this runner's stores
	writes  uint64
	pending *counts // the delta of a store whose answer was lost, and its number in Write
}

// loadCounts reads the stored totals, at the start of each run (another
// node may have run the pipeline since).
func (r *runner) loadCounts(ctx context.Context) error {
	c, rev, err := r.readCounts(ctx)
	if err != nil {
		return err
	}
	r.st.mu.Lock()
	defer r.st.mu.Unlock()
	t := &r.st.tally
	t.settle(c)
	t.stored, t.rev, t.loaded = c, rev, true
	return nil
}

// settle takes the outcome of a store whose answer was lost: if c is it,
// its delta is stored.
func (t *tally) settle(c counts) {
	if t.pending == nil {
		return
	}
	if c.Writer == t.tag && c.Write == t.writes {
		t.delta.add(*t.pending, -1)
	}
	t.pending = nil
}

func (r *runner) readCounts(ctx context.Context) (counts, uint64, error) {
	raw, rev, err := r.kv.Get(ctx, countsKey(r.spec.Name))
	if errors.Is(err, engine.ErrNotFound) {
		return counts{Since: time.Now().UTC()}, 0, nil
	}
	if err != nil {
		return counts{}, 0, fmt.Errorf("read the counts of pipeline %q: %w", r.spec.Name, err)
	}
	var c counts
	if err := json.Unmarshal(raw, &c); err != nil {
		return counts{Since: time.Now().UTC()}, rev, nil // unreadable: start over, keeping the revision to replace it
	}
	return c, rev, nil
}

// storeCounts adds the counts not yet stored to the stored totals; unless
// final, at most once every countsEvery.
func (r *runner) storeCounts(ctx context.Context, final bool) error {
	st := r.st
	st.mu.Lock()
	t := &st.tally
	if t.tag == "" {
		t.tag = rand.Text()[:12]
	}
	if !t.loaded || t.delta.zero() || !final && time.Since(t.at) < countsEvery {
		st.mu.Unlock()
		return nil
	}
	t.at = time.Now()
	d, base, rev := t.delta, t.stored, t.rev
	st.mu.Unlock()
	key := countsKey(r.spec.Name)
	for attempt := 0; ; attempt++ {
		st.mu.Lock()
		t.writes++
		next := base
		next.add(d, 1)
		next.Writer, next.Write = t.tag, t.writes
		st.mu.Unlock()
		raw, _ := json.Marshal(next)
		var err error
		var nrev uint64
		if rev == 0 {
			nrev, err = r.kv.Create(ctx, key, raw)
		} else {
			nrev, err = r.kv.Update(ctx, key, raw, rev)
		}
		if err == nil {
			st.mu.Lock()
			t.stored, t.rev = next, nrev
			t.delta.add(d, -1)
			st.mu.Unlock()
			return nil
		}
		if !errors.Is(err, engine.ErrConflict) && !errors.Is(err, engine.ErrExists) || attempt >= 10 {
			st.mu.Lock()
			t.pending, t.loaded = &d, false // read back before the next store: it may have gone through
			st.mu.Unlock()
			return fmt.Errorf("store the counts of pipeline %q: %w", r.spec.Name, err)
		}
		// Stored meanwhile by another runner (on another node, or the one
		// this one replaced): add to those.
		if base, rev, err = r.readCounts(ctx); err != nil {
			return err
		}
	}
}

// keepCounts stores the counts if a second passed since the last store
// (final: whatever the time, when the pipeline stops running here),
// reading the stored ones first if needed. A failure is only logged: the
// counts wait for the next store.
func (r *runner) keepCounts(ctx context.Context, final bool) {
	r.st.mu.Lock()
	loaded := r.st.tally.loaded
	r.st.mu.Unlock()
	err := error(nil)
	if !loaded {
		err = r.loadCounts(ctx)
	}
	if err == nil {
		err = r.storeCounts(ctx, final)
	}
	if err != nil && (final || ctx.Err() == nil) {
		r.log.Warn("pipeline counts not stored; they wait for the next store", "pipeline", r.spec.Name, "err", err)
	}
}
