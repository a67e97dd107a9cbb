package invocation

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"github.com/sluice-dev/sluice/internal/function"
)

// DefaultMaxBatch is the most events of one invocation by default.
const DefaultMaxBatch = 100

// Options shape how a Function invokes.
type Options struct {
	Name     string
	Config   map[string]any // sent with every invocation (payload sluice)
	MaxBatch int            // default DefaultMaxBatch
	Payload  string         // PayloadSluice (default) or PayloadFirehose
	Log      *slog.Logger
}

// Function runs batches of events through an Invoker: it is a
// function.Function whose failed invocations are bisected (see the
// package doc).
type Function struct {
	inv      Invoker
	opts     Options
	name     []byte // JSON
	config   []byte // JSON
	sem      chan struct{}
	log      *slog.Logger
	firehose bool
}

// New makes a Function of an invoker.
func New(inv Invoker, o Options) (*Function, error) {
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.Payload == "" {
		o.Payload = PayloadSluice
	}
	if o.MaxBatch < 1 || o.MaxBatch > 10000 {
		return nil, fmt.Errorf("max_batch: want 1 to 10000, got %d", o.MaxBatch)
	}
	if o.Payload != PayloadSluice && o.Payload != PayloadFirehose {
		return nil, fmt.Errorf("payload: %q: want sluice or firehose", o.Payload)
	}
	if o.Config == nil {
		o.Config = map[string]any{}
	}
	config, err := json.Marshal(o.Config)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Function{inv: inv, opts: o, name: mustJSON(o.Name), config: config,
		sem: make(chan struct{}, max(1, inv.Concurrency())), log: o.Log, firehose: o.Payload == PayloadFirehose}, nil
}

// Invoker is the function's invoker.
func (f *Function) Invoker() Invoker { return f.inv }

// Close stops the invoker.
func (f *Function) Close() error { return f.inv.Close() }

// Call runs events in invocations of at most MaxBatch, Concurrency at a
// time, and returns one result per event.
func (f *Function) Call(ctx context.Context, events []json.RawMessage) []function.Result {
	b := &batch{f: f, events: events, results: make([]function.Result, len(events)), attempts: make([]int, len(events))}
	var wg sync.WaitGroup
	for lo := 0; lo < len(events); lo += f.opts.MaxBatch {
		hi := min(lo+f.opts.MaxBatch, len(events))
		wg.Go(func() { b.solve(ctx, lo, hi) })
	}
	wg.Wait()
	return b.results
}

// batch is one Call: each event's result, and how many invocations held it.
type batch struct {
	f        *Function
	events   []json.RawMessage
	results  []function.Result
	attempts []int // each index is written by one goroutine at a time
}

// solve gives events[lo:hi] their results: one invocation, or, when it
// fails as a whole, each half on its own, down to single events.
func (b *batch) solve(ctx context.Context, lo, hi int) {
	for i := lo; i < hi; i++ {
		b.attempts[i]++
	}
	res, stderr, err := b.f.invoke(ctx, b.events[lo:hi])
	if err == nil {
		for k, r := range res {
			i := lo + k
			if r.err != nil {
				b.results[i].Err = eventError(r.err, b.attempts[i], stderr)
				continue
			}
			b.results[i].Outputs = r.outputs
		}
		return
	}
	if ctx.Err() != nil {
		for i := lo; i < hi; i++ {
			b.results[i].Err = ctx.Err()
		}
		return
	}
	fail := asFailure(err)
	if fail.Class != Bisect || hi-lo == 1 {
		for i := lo; i < hi; i++ {
			b.results[i].Err = fail.callError(b.attempts[i])
		}
		return
	}
	mid := lo + (hi-lo)/2
	b.f.log.Warn("function failed a batch; trying each half", "function", b.f.opts.Name, "events", hi-lo, "err", fail.Error())
	var wg sync.WaitGroup
	wg.Go(func() { b.solve(ctx, lo, mid) })
	b.solve(ctx, mid, hi)
	wg.Wait()
}

// invoke runs one invocation and decodes its answer; an answer that breaks
// the contract is the invocation's failure.
func (f *Function) invoke(ctx context.Context, events []json.RawMessage) ([]eventResult, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	var body []byte
	if f.firehose {
		body = encodeFirehose(f.opts.Name, events)
	} else {
		body = encodeRequest(f.name, f.config, events)
	}
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	reply, err := f.inv.Invoke(ctx, body)
	<-f.sem
	if err != nil {
		return nil, "", err
	}
	var res []eventResult
	if f.firehose {
		res, err = decodeFirehose(reply.Body, len(events))
	} else {
		res, err = decodeAnswer(reply.Body, len(events))
	}
	if err != nil {
		return nil, "", invalidAnswer(err, reply.Stderr)
	}
	return res, reply.Stderr, nil
}

// WithConfig is the function with another config, on the same invoker
// (the same processes): for `sluice test`, which points a function at a
// simulator. Closing it does not close the invoker.
func (f *Function) WithConfig(config map[string]any) (function.Function, error) {
	o := f.opts
	o.Config = config
	g, err := New(f.inv, o)
	if err != nil {
		return nil, err
	}
	g.sem = f.sem // the invoker's bound holds for both
	return borrowed{g}, nil
}

type borrowed struct{ f *Function }

func (b borrowed) Call(ctx context.Context, events []json.RawMessage) []function.Result {
	return b.f.Call(ctx, events)
}
