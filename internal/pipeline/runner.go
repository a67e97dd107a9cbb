package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/sync/errgroup"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/stream"
)

const (
	fetchWait  = 500 * time.Millisecond
	ackWait    = 5 * time.Minute // a batch slower than this is delivered again
	spaceRetry = 5 * time.Second // the longest wait after an output ran out of space
)

type runner struct {
	spec    *Spec
	svc     *stream.Service
	cons    engine.Consumers
	kv      engine.KV // the pause state
	log     *slog.Logger
	st      *status
	control chan func(ctx context.Context) error // run between batches: pause, resume, reset
	done    chan struct{}                        // closed when the runner is closed: it runs no more
	mu      sync.Mutex
	running chan struct{} // closed when the last Run returned (Run comes again when a node gets the pipeline back)
	paused  bool
	errors  string // the dead-letter stream
	// reset, if set, is the sequence the consumer starts at, wherever it
	// was, at the first session (see PutOptions.Reset).
	reset   *uint64
	resetID string // names the reset among nodes (PutOptions.ResetID)
	// newInput: the pipeline was put to read another stream than before.
	newInput bool
	prev     *status // of the pipeline this one replaces: its counts go on
	// onClose, if set, runs at the end of Close: what a change left to
	// do once the pipeline ended (e.g. delete its consumer).
	onClose func(ctx context.Context) error
	// onRun, if set, runs at the start of each Run (among nodes: what
	// waits for the pipeline to run here).
	onRun func(ctx context.Context)
	// oldest caches oldestWaiting's answer for an ack floor.
	oldest struct {
		floor uint64
		at    time.Time
	}
	// onEnd, if set, runs at the end of each Run (among nodes: what must
	// not go on once the pipeline went to another node).
	onEnd func()
}

// ran is closed once the current Run returned; nil before the first.
func (r *runner) ran() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running
}

// resetKey is where the last reset done is recorded, in the pause state's bucket.
func resetKey(pipeline string) string { return pipeline + ".reset" }

func consumerName(pipeline string) string { return "pipeline_" + pipeline }

// run keeps the pipeline going until ctx ends; failures of its own (an
// output or the engine down) are retried with backoff, never skipped.
func (r *runner) run(ctx context.Context) {
	b := backoff.NewExponentialBackOff()
	b.MaxInterval = 30 * time.Second
	for ctx.Err() == nil {
		err := r.session(ctx)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			r.fail(err)
			wait := b.NextBackOff()
			if errors.Is(err, engine.ErrNoSpace) {
				wait = min(wait, spaceRetry) // refused at once, costs nothing: notice soon that space returned
			}
			r.log.Warn("pipeline failing; retrying", "pipeline", r.spec.Name, "err", err, "in", wait)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			case f := <-r.control:
				_ = f(ctx)
			}
			continue
		}
		b.Reset()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	r.keepCounts(ctx, true)
	r.st.set(func(s *Status) { s.State = Stopped })
}

func (r *runner) fail(err error) {
	now := time.Now().UTC()
	r.st.set(func(s *Status) { s.State, s.LastError, s.LastErrorTime = Failing, err.Error(), &now })
}

// session opens the consumer and processes batches until ctx ends or a
// failure of the pipeline's own.
func (r *runner) session(ctx context.Context) error {
	var err error
	if r.errors == "" {
		if r.errors, err = ensureErrors(ctx, r.svc, r.spec.Name); err != nil {
			return err
		}
	}
	for _, o := range r.spec.To {
		if so, ok := o.(*StreamOutput); ok {
			if r.newInput && so.written == "" {
				continue // the positions it wrote are of the old input stream: they say nothing of this one's
			}
			if err := so.load(ctx); err != nil {
				return err
			}
		}
	}
	if err := r.loadCounts(ctx); err != nil {
		return err
	}
	c, err := r.consumer(ctx)
	if err != nil {
		return err
	}
	for {
		// Between batches: run what the manager asked (pause, resume, reset,
		// redrive) first; while paused, wait for it.
		var f func(context.Context) error
		select {
		case <-ctx.Done():
			return nil
		case f = <-r.control:
		default:
			if r.paused {
				r.st.set(func(s *Status) { s.State, s.Paused = Paused, true })
				select {
				case <-ctx.Done():
					return nil
				case f = <-r.control:
				}
			}
		}
		if f != nil {
			if err := f(ctx); err != nil {
				return err
			}
			if c, err = r.consumer(ctx); err != nil {
				return err
			}
			continue
		}
		r.st.set(func(s *Status) { s.State, s.Paused = Running, false })
		batch, err := c.Fetch(ctx, min(r.spec.MaxInFlight, 500), fetchWait)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetch from %q: %w", r.spec.From, err)
		}
		if len(batch) > 0 {
			if err := r.process(ctx, batch); err != nil {
				return err
			}
		}
		if st, err := c.State(ctx); err == nil {
			oldest, ok := r.oldestWaiting(ctx, st)
			r.st.consumer(st, oldest, ok)
		}
		r.keepCounts(ctx, false)
	}
}

// oldestWaiting is when the oldest input not yet done was stored: the one
// just after the ack floor (zero when none waits). It is read again only
// when the floor moved. ok is false when it could not be read.
func (r *runner) oldestWaiting(ctx context.Context, st engine.ConsumerState) (time.Time, bool) {
	if st.Pending+st.InFlight == 0 {
		return time.Time{}, true
	}
	if r.oldest.floor == st.AckFloor && !r.oldest.at.IsZero() {
		return r.oldest.at, true
	}
	m, err := r.svc.Engine().Get(ctx, r.spec.From, st.AckFloor+1)
	if err != nil {
		return time.Time{}, false
	}
	r.oldest.floor, r.oldest.at = st.AckFloor, m.Arrived
	return m.Arrived, true
}

// consumer opens the durable consumer, creating it at the spec's start.
// Deliveries a previous run (a crashed process) left unacknowledged would
// only come again after AckWait; the consumer is recreated just after its
// ack floor instead, so they come at once. (Outputs already written for
// them are skipped by position.) One node runs a given pipeline.
func (r *runner) consumer(ctx context.Context) (engine.Consumer, error) {
	start, err := r.svc.Resolve(ctx, r.spec.From, r.spec.Start)
	if err != nil {
		return nil, err
	}
	cfg := engine.ConsumerConfig{Stream: r.spec.From, Name: consumerName(r.spec.Name),
		StartSeq: start, MaxAckPending: r.spec.MaxInFlight, AckWait: ackWait}
	if r.reset != nil && r.resetID != "" {
		// Every node sharing the engine was put the same reset: the first
		// to run the pipeline does it, the others find it done.
		if v, _, err := r.kv.Get(ctx, resetKey(r.spec.Name)); err == nil && string(v) == r.resetID {
			r.reset = nil
		}
	}
	if r.reset != nil {
		if err := r.cons.DeleteConsumer(ctx, r.spec.From, cfg.Name); err != nil {
			return nil, err
		}
		cfg.StartSeq = *r.reset
		c, err := r.cons.EnsureConsumer(ctx, cfg)
		if err != nil {
			return nil, err
		}
		r.log.Info("pipeline starts at the position it was put with", "pipeline", r.spec.Name, "seq", cfg.StartSeq)
		if r.resetID != "" {
			if err := engine.Put(ctx, r.kv, resetKey(r.spec.Name), []byte(r.resetID)); err != nil {
				return nil, fmt.Errorf("record the reset: %w", err)
			}
		}
		r.reset = nil
		return c, nil
	}
	c, err := r.cons.EnsureConsumer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	st, err := c.State(ctx)
	if err != nil || st.InFlight == 0 {
		return c, err
	}
	r.log.Info("pipeline takes back deliveries left unacknowledged", "pipeline", r.spec.Name, "in_flight", st.InFlight, "from", st.AckFloor+1)
	if err := r.cons.DeleteConsumer(ctx, r.spec.From, cfg.Name); err != nil {
		return nil, err
	}
	cfg.StartSeq = st.AckFloor + 1
	return r.cons.EnsureConsumer(ctx, cfg)
}

// process handles one batch: the step (where, function, output checks),
// then outputs, dead letters, acks.
func (r *runner) process(ctx context.Context, batch []engine.Delivery) error {
	type input struct {
		d  engine.Delivery
		id string
	}
	var ins []input // the events of the batch
	var events []json.RawMessage
	var failures []Failure
	var lastTime time.Time
	for _, d := range batch {
		e := stream.EventOf(d.Stored)
		if err := stream.NotEvent(e); err != nil {
			// Published straight into the stream's subject: not an event,
			// whatever the where clause. It becomes a dead letter (the
			// bytes in base64 if they are not JSON) and the pipeline goes on.
			f := newFailure(r.spec, d.Seq, e.ID, d.Data, err)
			f.Input.Foreign = true
			failures = append(failures, f)
			continue
		}
		if e.Time.After(lastTime) {
			lastTime = e.Time
		}
		ins, events = append(ins, input{d, e.ID}), append(events, d.Data)
	}
	var outcomes []Outcome
	if len(events) > 0 {
		step, err := r.step(ctx)
		if err != nil {
			return err // nothing acknowledged: the batch comes again
		}
		outcomes, err = step.Run(ctx, events)
		if ctx.Err() != nil {
			return nil // shutting down: nothing acknowledged, all will come again
		}
		if err != nil {
			return fmt.Errorf("function %s: %w", r.spec.FunctionName, err) // not the events' fault: the batch comes again
		}
	}
	var filtered, processed uint64
	var outs []Out
	var outInput []int // index in ins of each output
	for i, o := range outcomes {
		in := ins[i]
		switch {
		case o.Skipped:
			filtered++
		case o.Err != nil: // the function's error, or an output refused what it gave
			failures = append(failures, newFailure(r.spec, in.d.Seq, in.id, in.d.Data, o.Err))
		default:
			processed++
			for k, data := range o.Outputs {
				outs = append(outs, Out{Data: data, ID: fmt.Sprintf("%s:%s:%d", r.spec.Name, in.id, k),
					Position: fmt.Sprintf("%020d:%06d", in.d.Seq, k)})
				outInput = append(outInput, i)
			}
		}
	}
	// An output may still refuse at write time what its check let through
	// (its schema changed in between), or have no check: that input is
	// dead-lettered too, as the step would have.
	refused := map[int]bool{}
	for _, o := range r.outputOrder() {
		invalid, err := o.Write(ctx, outs)
		if err != nil {
			return err // nothing acknowledged: the batch comes again
		}
		for oi, vs := range invalid {
			i := outInput[oi]
			if refused[i] {
				continue
			}
			refused[i] = true
			processed--
			_, k, _ := splitOutPosition(outs[oi].Position)
			in := ins[i]
			failures = append(failures, newFailure(r.spec, in.d.Seq, in.id, in.d.Data, &RefusedError{Output: o.Name(), Index: k, Violations: vs}))
		}
	}
	if len(failures) > 0 {
		sort.Slice(failures, func(i, j int) bool { return failures[i].Input.Seq < failures[j].Input.Seq })
		limit := r.svc.Limits.MaxEventBytes
		if limit <= 0 {
			limit = stream.DefaultLimits.MaxEventBytes
		}
		raws := make([][]byte, len(failures))
		for i, f := range failures {
			raws[i] = f.marshal(limit)
		}
		res, err := r.svc.ProduceFrom(ctx, r.errors, stream.Origin{Name: r.spec.Name}, raws)
		if err != nil {
			return fmt.Errorf("dead letters: %w", err)
		}
		if len(res.Invalid) > 0 {
			return fmt.Errorf("dead letter refused by %q: %v", r.errors, res.Invalid[0].Errors)
		}
		r.log.Warn("pipeline dead-lettered inputs", "pipeline", r.spec.Name, "count", len(failures), "first", failures[0].Error)
	}
	if err := r.ack(ctx, batch); err != nil {
		return err
	}
	r.st.count(uint64(len(batch)))
	r.st.done(counts{Processed: processed, Filtered: filtered, Failed: uint64(len(failures)), Outputs: uint64(len(outs))})
	now := time.Now().UTC()
	r.st.set(func(s *Status) {
		if !lastTime.IsZero() {
			s.LastEventTime = &lastTime
		}
		if len(failures) > 0 {
			s.LastError, s.LastErrorTime = failures[len(failures)-1].Error, &now
		}
	})
	return nil
}

// outputOrder is the pipeline's outputs, streams first: on a redelivery a
// stream output gives the others the data it stored the first time.
func (r *runner) outputOrder() []Output { return WriteOrder(r.spec.To) }

// WriteOrder is outputs in the order a pipeline writes them: its stream
// outputs first, then the others.
func WriteOrder(outputs []Output) []Output {
	out := make([]Output, 0, len(outputs))
	for _, streams := range []bool{true, false} {
		for _, o := range outputs {
			if _, ok := o.(*StreamOutput); ok == streams {
				out = append(out, o)
			}
		}
	}
	return out
}

// acksAtOnce bounds the acknowledgements of a batch waiting for their
// confirmation together. Each is confirmed by the server (a lost one
// would mean the input comes again); one after the other, a replicated
// consumer's round trip each made acks most of a pipeline's time on R3.
const acksAtOnce = 64

// ack acknowledges every delivery of a batch, confirmed.
func (r *runner) ack(ctx context.Context, batch []engine.Delivery) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(acksAtOnce)
	for _, d := range batch {
		g.Go(func() error {
			if err := d.Ack(ctx); err != nil {
				return fmt.Errorf("ack %s@%d: %w", r.spec.From, d.Seq, err)
			}
			return nil
		})
	}
	return g.Wait()
}
