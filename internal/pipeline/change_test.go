package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/filter"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/schema"
)

// versionFn writes one output per input, "<id>-o", marked with its
// version, and counts the inputs it was called with.
type versionFn struct {
	version int
	inputs  atomic.Int64
}

func (f *versionFn) Call(_ context.Context, events []json.RawMessage) []function.Result {
	f.inputs.Add(int64(len(events)))
	out := make([]function.Result, len(events))
	for i, e := range events {
		var in struct {
			Meta struct{ ID, DT string }
			N    int
		}
		_ = json.Unmarshal(e, &in)
		out[i].Outputs = []json.RawMessage{fmt.Appendf(nil, `{"meta":{"id":"%s-o","dt":%q},"n":%d,"v":%d}`,
			in.Meta.ID, in.Meta.DT, in.N%1000, f.version)}
	}
	return out
}

// changeSpec is a pipeline from a stream to "out" with fn and where.
func changeSpec(t *testing.T, e *opsEnv, name, from, where string, fn *versionFn) pipeline.Spec {
	t.Helper()
	s := pipeline.Spec{Name: name, From: from, Start: event.Position{Kind: event.Earliest},
		FunctionName: fmt.Sprintf("v%d", fn.version), Function: fn, MaxInFlight: 10,
		To: []pipeline.Output{pipeline.NewStreamOutput(e.n.Streams, name, "out")}}
	if where != "" {
		f, err := filter.Compile(where)
		if err != nil {
			t.Fatal(err)
		}
		s.Where = f
	}
	return s
}

// emptyManager starts a manager with no pipeline, stopped when the test ends.
func emptyManager(t *testing.T, e *opsEnv, reg prometheus.Registerer) *pipeline.Manager {
	t.Helper()
	m, err := pipeline.NewManager(context.Background(), e.n.Streams, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Start(context.Background())
	t.Cleanup(m.Stop)
	return m
}

// outputs reads "out": each output's id and version, in order.
func outputs(t *testing.T, e *opsEnv) (ids []string, versions []int) {
	t.Helper()
	for _, raw := range read(t, e.n, "out") {
		var o struct {
			Meta struct{ ID string }
			V    int
		}
		_ = json.Unmarshal(raw, &o)
		ids, versions = append(ids, o.Meta.ID), append(versions, o.V)
	}
	return ids, versions
}

func pipelineAt(m *pipeline.Manager, name string, position uint64) func() bool {
	return func() bool {
		s, _ := m.Get(name)
		return s.Position >= position && s.LagEvents == 0
	}
}

func consumerCount(t *testing.T, e *opsEnv, stream string) int {
	t.Helper()
	n, err := e.n.Engine.ConsumerCount(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPutKeepsThePosition: a pipeline put while the manager runs starts at
// once; put again mid-way with another where and function, it restarts
// from its consumer: every input has exactly one output, the outputs of the
// old function and then those of the new, and the functions together saw
// each input once, but for at most one batch left unacknowledged.
func TestPutKeepsThePosition(t *testing.T) {
	e := newOpsEnv(t)
	m := emptyManager(t, e, nil)
	ctx := context.Background()
	v1, v2 := &versionFn{version: 1}, &versionFn{version: 2}
	if err := m.Put(ctx, changeSpec(t, e, "ops", "in", "", v1), pipeline.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	const total = 300
	produced := make(chan error, 1)
	go func() {
		for i := 0; i < total; i += 10 {
			if err := e.inputs(i, i+10, false); err != nil {
				produced <- err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		produced <- nil
	}()
	until(t, "a third of the inputs", func() bool { s, _ := m.Get("ops"); return s.Position >= total/3 })
	if err := m.Put(ctx, changeSpec(t, e, "ops", "in", "event.n >= 0", v2), pipeline.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	until(t, "every input", pipelineAt(m, "ops", total))
	ids, versions := outputs(t, e)
	if len(ids) != total {
		t.Fatalf("%d outputs for %d inputs", len(ids), total)
	}
	switched := 0
	for i, id := range ids {
		if id != fmt.Sprintf("e%d-o", i) {
			t.Fatalf("output %d is %s", i, id)
		}
		if versions[i] == 2 && switched == 0 {
			switched = i
		}
		if switched > 0 && versions[i] != 2 {
			t.Fatalf("output %d of version %d after the new function's first (%d)", i, versions[i], switched)
		}
	}
	if switched < total/3 || switched == total-1 {
		t.Fatalf("the new function took over at input %d", switched)
	}
	seen := v1.inputs.Load() + v2.inputs.Load()
	if seen < total || seen > total+10 {
		t.Fatalf("the functions saw %d inputs for %d (at most one batch of 10 again)", seen, total)
	}
	s, _ := m.Get("ops")
	// The counts go on from the old one's (an input acknowledged as the
	// old one stopped may be left out of them).
	if s.Function != "v2" || s.Processed < total-10 || s.Outputs < total-10 || s.State != pipeline.Running {
		t.Fatalf("status after the change: %+v", s)
	}
	t.Logf("switched at input %d; the functions saw %d inputs", switched, seen)
}

// TestPutAnotherInputStream: a pipeline put to read another stream is
// refused without a position; with one it starts there, and its consumer
// on the old stream goes. A reset on the same stream processes again.
func TestPutAnotherInputStream(t *testing.T) {
	e := newOpsEnv(t)
	m := emptyManager(t, e, nil)
	ctx := context.Background()
	b, err := schema.FromDocument("urn:in2", []byte(`{"type":"object","required":["meta"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.n.Streams.Create(ctx, catalog.Stream{Name: "in2", ID: "/meta/id", Time: "/meta/dt"}, b); err != nil {
		t.Fatal(err)
	}
	v1, v2, v3 := &versionFn{version: 1}, &versionFn{version: 2}, &versionFn{version: 3}
	if err := m.Put(ctx, changeSpec(t, e, "ops", "in", "", v1), pipeline.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	e.produce(t, 0, 10, false)
	until(t, "the first inputs", pipelineAt(m, "ops", 10))

	err = m.Put(ctx, changeSpec(t, e, "ops", "in2", "", v2), pipeline.PutOptions{})
	if !errors.Is(err, pipeline.ErrFromChanged) || !strings.Contains(err.Error(), `"in"`) || !strings.Contains(err.Error(), `"in2"`) {
		t.Fatalf("another stream without a reset: %v", err)
	}
	if s, _ := m.Get("ops"); s.From != "in" || s.Function != "v1" {
		t.Fatalf("after the refusal: %+v", s)
	}
	var raws [][]byte
	for i := range 5 {
		raws = append(raws, fmt.Appendf(nil, `{"meta":{"id":"x%d","dt":"2026-11-27T11:00:0%dZ"},"n":%d}`, i, i, i))
	}
	if _, err := e.n.Streams.Produce(ctx, "in2", raws); err != nil {
		t.Fatal(err)
	}
	earliest := event.Position{Kind: event.Earliest}
	if err := m.Put(ctx, changeSpec(t, e, "ops", "in2", "", v2), pipeline.PutOptions{Reset: &earliest}); err != nil {
		t.Fatal(err)
	}
	until(t, "the other stream's inputs", pipelineAt(m, "ops", 5))
	if ids, _ := outputs(t, e); len(ids) != 15 || ids[14] != "x4-o" {
		t.Fatalf("outputs: %v", ids)
	}
	if n := consumerCount(t, e, "in"); n != 0 {
		t.Fatalf("%d consumers left on the old stream", n)
	}
	if n := consumerCount(t, e, "in2"); n != 1 {
		t.Fatalf("%d consumers on the new stream", n)
	}
	// The same stream with a reset: from the position again; the outputs
	// it had are not written twice.
	second := event.Position{Kind: event.Sequence, Seq: 2}
	if err := m.Put(ctx, changeSpec(t, e, "ops", "in2", "", v3), pipeline.PutOptions{Reset: &second}); err != nil {
		t.Fatal(err)
	}
	until(t, "the reset", func() bool { return v3.inputs.Load() >= 4 })
	until(t, "the end again", pipelineAt(m, "ops", 5))
	if n := v3.inputs.Load(); n != 4 {
		t.Fatalf("after a reset to 2 of 5, the function saw %d inputs", n)
	}
	if ids, _ := outputs(t, e); len(ids) != 15 {
		t.Fatalf("%d outputs after the reset", len(ids))
	}
}

// TestRemove: a removed pipeline stops and gives up its consumer and its
// pause state; its output stream and dead letters stay. Put again, it
// starts afresh at its spec's start.
func TestRemove(t *testing.T) {
	e := newOpsEnv(t)
	m := emptyManager(t, e, nil)
	ctx := context.Background()
	v1 := &versionFn{version: 1}
	if err := m.Put(ctx, changeSpec(t, e, "ops", "in", "", v1), pipeline.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	e.produce(t, 0, 10, false)
	until(t, "the inputs", pipelineAt(m, "ops", 10))
	if _, err := m.SetPaused(ctx, "ops", true); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get("ops"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("Get after Remove: %v", err)
	}
	if err := m.Remove(ctx, "ops"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("Remove again: %v", err)
	}
	if n := consumerCount(t, e, "in"); n != 0 {
		t.Fatalf("%d consumers left", n)
	}
	if n := e.count(t, "out"); n != 10 {
		t.Fatalf("the output stream holds %d", n)
	}
	if _, err := e.n.Streams.Get(ctx, "ops.errors"); err != nil {
		t.Fatalf("the dead letters: %v", err)
	}
	kv, err := e.n.Engine.KV(ctx, "pipelines")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := kv.Get(ctx, "ops"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("pause state after Remove: %v", err)
	}
	again := &versionFn{version: 2}
	if err := m.Put(ctx, changeSpec(t, e, "ops", "in", "", again), pipeline.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	until(t, "the pipeline put again", pipelineAt(m, "ops", 10))
	if s, _ := m.Get("ops"); s.Paused || again.inputs.Load() != 10 || e.count(t, "out") != 10 {
		t.Fatalf("put again: %+v, %d inputs", s, again.inputs.Load())
	}
}

// TestChangesWhileAnOperationRuns: a pipeline on which a redrive runs is
// neither put anew nor removed (ErrBusy); after it, it is.
func TestChangesWhileAnOperationRuns(t *testing.T) {
	e := newOpsEnv(t)
	m := e.manager(t)
	e.fn.broken.Store(true)
	e.produce(t, 0, 5, true)
	until(t, "the dead letters", caughtUp(m, 5))
	e.fn.broken.Store(false)
	op, err := m.StartRedrive("ops") // waits in the function for the gate
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var busy *pipeline.BusyError
	v2 := &versionFn{version: 2}
	if err := m.Put(ctx, changeSpec(t, e, "ops", "in", "", v2), pipeline.PutOptions{}); !errors.Is(err, pipeline.ErrBusy) || !errors.As(err, &busy) || busy.Running.ID != op.ID {
		t.Fatalf("Put during a redrive: %v", err)
	}
	if err := m.Remove(ctx, "ops"); !errors.Is(err, pipeline.ErrBusy) {
		t.Fatalf("Remove during a redrive: %v", err)
	}
	if s, _ := m.Get("ops"); s.Function != "ops" {
		t.Fatalf("changed anyway: %+v", s)
	}
	e.fn.gate <- struct{}{}
	if op, err := m.Wait(ctx, op.ID); err != nil || op.State != pipeline.OpSucceeded {
		t.Fatalf("redrive: %+v %v", op, err)
	}
	if err := m.Put(ctx, changeSpec(t, e, "ops", "in", "", v2), pipeline.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
}

// TestChangesRaceReaders puts and removes pipelines while their status,
// metrics and controls are used from other goroutines, as the HTTP API
// does; run with -race.
func TestChangesRaceReaders(t *testing.T) {
	e := newOpsEnv(t)
	reg := prometheus.NewRegistry()
	m := emptyManager(t, e, reg)
	e.produce(t, 0, 20, false)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	reader := func(f func(ctx context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				f(ctx)
				cancel()
			}
		}()
	}
	reader(func(context.Context) { _ = m.List(); _, _ = m.Get("p1") })
	reader(func(context.Context) {
		if _, err := reg.Gather(); err != nil {
			t.Error(err)
		}
	})
	reader(func(ctx context.Context) { _, _ = m.SetPaused(ctx, "p0", false) })
	reader(func(ctx context.Context) { _, _ = m.Reset(ctx, "p1", event.Position{Kind: event.Earliest}) })
	reader(func(ctx context.Context) { _, _ = m.StartRedrive("p2") })
	var writers sync.WaitGroup
	for w := range 3 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 8 {
				name := fmt.Sprintf("p%d", (w+i)%3)
				var err error
				if i%3 == 2 {
					err = m.Remove(context.Background(), name)
				} else {
					err = m.Put(context.Background(), changeSpec(t, e, name, "in", "", &versionFn{version: i}), pipeline.PutOptions{})
				}
				if err != nil && !errors.Is(err, pipeline.ErrNotFound) && !errors.Is(err, pipeline.ErrBusy) {
					t.Error(err)
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	for _, s := range m.List() {
		until(t, s.Name+" at the end", pipelineAt(m, s.Name, 20))
	}
}
