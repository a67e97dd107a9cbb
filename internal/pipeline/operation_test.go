package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/table"
	"github.com/sluice-dev/sluice/internal/table/sqlite"
)

// opsFn fails inputs with a negative n while broken; once fixed, a call
// with such an input (a redrive) first takes a token from gate, so a test
// holds a redrive in its function as long as it likes. Its outputs carry
// the call's number: a function that answers differently every time.
type opsFn struct {
	broken atomic.Bool
	gate   chan struct{}
	calls  atomic.Int64
}

func (f *opsFn) Call(ctx context.Context, events []json.RawMessage) []function.Result {
	call := f.calls.Add(1)
	out := make([]function.Result, len(events))
	held := false
	for i, e := range events {
		var in struct {
			Meta struct{ ID, DT string }
			N    int
		}
		_ = json.Unmarshal(e, &in)
		if in.N < 0 {
			if f.broken.Load() {
				out[i].Err = errors.New("broken")
				continue
			}
			if !held {
				select {
				case <-f.gate:
					held = true
				case <-ctx.Done():
					for j := range out {
						out[j] = function.Result{Err: ctx.Err()}
					}
					return out
				}
			}
		}
		n := max(in.N, -in.N)
		out[i].Outputs = []json.RawMessage{fmt.Appendf(nil, `{"meta":{"id":"%s-o","dt":%q},"n":%d,"k":"k%d","call":%d}`,
			in.Meta.ID, in.Meta.DT, n%1000, n%5, call)}
	}
	return out
}

// opsEnv is a node with streams in and out, a table store with tables t1
// and t2, and the function; manager makes a pipeline "ops" over them:
// in -> fn -> out, t1, t2.
type opsEnv struct {
	n     *node.Node
	store table.Store
	fn    *opsFn
}

func newOpsEnv(t *testing.T) *opsEnv {
	t.Helper()
	n := startInOut(t)
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "tables.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, name := range []string{"t1", "t2"} {
		if err := store.Create(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	return &opsEnv{n: n, store: store, fn: &opsFn{gate: make(chan struct{})}}
}

// manager makes and starts a manager running the pipeline "ops"; it is
// stopped when the test ends (stopping it twice is harmless).
func (e *opsEnv) manager(t *testing.T) *pipeline.Manager {
	t.Helper()
	m, err := pipeline.NewManager(context.Background(), e.n.Streams, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	to := []pipeline.Output{pipeline.NewStreamOutput(e.n.Streams, "ops", "out")}
	for _, name := range []string{"t1", "t2"} {
		o, err := pipeline.NewTableOutput(e.store, name, "in", "event.k", "/meta/dt", "")
		if err != nil {
			t.Fatal(err)
		}
		to = append(to, o)
	}
	if err := m.Add(pipeline.Spec{Name: "ops", From: "in", Start: event.Position{Kind: event.Earliest}, FunctionName: "ops", Function: e.fn, To: to}); err != nil {
		t.Fatal(err)
	}
	m.Start(context.Background())
	t.Cleanup(m.Stop)
	return m
}

// produce stores inputs e<from>..e<to-1>; with negative n if neg.
func (e *opsEnv) produce(t *testing.T, from, to int, neg bool) {
	t.Helper()
	if err := e.inputs(from, to, neg); err != nil {
		t.Fatal(err)
	}
}

func (e *opsEnv) inputs(from, to int, neg bool) error {
	var raws [][]byte
	for i := from; i < to; i++ {
		n := i
		if neg {
			n = -(i + 1)
		}
		dt := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		raws = append(raws, fmt.Appendf(nil, `{"meta":{"id":"e%d","dt":%q},"n":%d}`, i, dt, n))
	}
	_, err := e.n.Streams.Produce(context.Background(), "in", raws)
	return err
}

// until waits for cond; the deadline only guards against a hang.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func caughtUp(m *pipeline.Manager, position uint64) func() bool {
	return func() bool {
		s, _ := m.Get("ops")
		return s.Position >= position && s.LagEvents == 0
	}
}

func (e *opsEnv) count(t *testing.T, name string) uint64 {
	t.Helper()
	st, err := e.n.Engine.State(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return st.Messages
}

// A redrive answers at once and runs beside the pipeline: while it waits in
// its function, pause, resume and reset answer, the pipeline processes new
// inputs, a second operation is refused naming the first, and its progress
// moves batch by batch to the end. Every dead letter then has its output
// once and is removed.
func TestRedriveRunsBesideThePipeline(t *testing.T) {
	e := newOpsEnv(t)
	m := e.manager(t)
	e.fn.broken.Store(true)
	e.produce(t, 0, 120, true)
	e.produce(t, 120, 130, false)
	until(t, "the dead letters", caughtUp(m, 130))
	if n := e.count(t, "ops.errors"); n != 120 {
		t.Fatalf("%d dead letters", n)
	}
	e.fn.broken.Store(false) // the fix

	op, err := m.StartRedrive("ops")
	if err != nil || op.State != pipeline.OpRunning || op.Kind != pipeline.KindRedrive {
		t.Fatalf("start: %+v %v", op, err)
	}
	// Its first batch waits in the function; the controls answer meanwhile.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard, not a speed check
	defer cancel()
	if s, err := m.SetPaused(ctx, "ops", true); err != nil || !s.Paused || s.Operation == nil || s.Operation.ID != op.ID {
		t.Fatalf("pause: %+v %v", s, err)
	}
	if _, err := m.SetPaused(ctx, "ops", false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reset(ctx, "ops", event.Position{Kind: event.Sequence, Seq: 121}); err != nil {
		t.Fatal(err)
	}
	e.produce(t, 130, 135, false)
	until(t, "new inputs while the redrive runs", caughtUp(m, 135))
	var busy *pipeline.BusyError
	if _, err := m.StartRedrive("ops"); !errors.As(err, &busy) || busy.Running.ID != op.ID {
		t.Fatalf("a second redrive: %v", err)
	}
	if _, err := m.StartRebuild("t1"); !errors.As(err, &busy) || busy.Running.ID != op.ID {
		t.Fatalf("a rebuild of a table of the pipeline: %v", err)
	}
	// Batch by batch (50 dead letters each) to the end, while the pipeline
	// writes new inputs' outputs to the same outputs.
	busyDone := make(chan struct{})
	go func() {
		defer close(busyDone)
		for i := 135; i < 400; i += 5 {
			if err := e.inputs(i, i+5, false); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for _, want := range []uint64{50, 100, 120} {
		e.fn.gate <- struct{}{}
		until(t, fmt.Sprintf("%d dead letters done", want), func() bool {
			v, _ := m.Operation(op.ID)
			return v.Progress.Done >= want
		})
		if v, _ := m.Operation(op.ID); v.Progress.Total == nil || *v.Progress.Total != 120 || v.Progress.Succeeded != want {
			t.Fatalf("progress: %+v", v.Progress)
		}
	}
	op, err = m.Wait(ctx, op.ID)
	if err != nil || op.State != pipeline.OpSucceeded || op.Progress.Succeeded != 120 || op.Progress.Failed != 0 || op.Finished == nil {
		t.Fatalf("end: %+v %v", op, err)
	}
	<-busyDone
	until(t, "the new inputs", caughtUp(m, 400))
	if n := e.count(t, "ops.errors"); n != 0 {
		t.Fatalf("%d dead letters left", n)
	}
	ids := map[string]int{}
	for _, raw := range read(t, e.n, "out") {
		var o struct{ Meta struct{ ID string } }
		_ = json.Unmarshal(raw, &o)
		ids[o.Meta.ID]++
	}
	for i := range 400 {
		if ids[fmt.Sprintf("e%d-o", i)] != 1 {
			t.Fatalf("input e%d has %d outputs", i, ids[fmt.Sprintf("e%d-o", i)])
		}
	}
	if s, _ := m.Get("ops"); s.Operation == nil || s.Operation.State != pipeline.OpSucceeded {
		t.Fatalf("the pipeline shows %+v", s.Operation)
	}
}

// A canceled redrive stops at once, keeps the dead letters it had not
// handled, and another can run after it. Stopping the node interrupts an
// operation; after a restart the pipeline shows it interrupted, and a
// redrive is not started over.
func TestCancelAndInterruptOperations(t *testing.T) {
	e := newOpsEnv(t)
	m := e.manager(t)
	e.fn.broken.Store(true)
	e.produce(t, 0, 10, true)
	until(t, "the dead letters", caughtUp(m, 10))
	e.fn.broken.Store(false)

	op, err := m.StartRedrive("ops")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if op, err = m.Cancel(ctx, op.ID); err != nil || op.State != pipeline.OpCanceled || op.Progress.Succeeded != 0 {
		t.Fatalf("cancel: %+v %v", op, err)
	}
	if _, err := m.Cancel(ctx, op.ID); !errors.Is(err, pipeline.ErrOperationEnded) {
		t.Fatalf("cancel again: %v", err)
	}
	if n := e.count(t, "ops.errors"); n != 10 {
		t.Fatalf("%d dead letters after the cancel", n)
	}

	op, err = m.StartRedrive("ops") // held in its function: the stop interrupts it
	if err != nil {
		t.Fatal(err)
	}
	m.Stop()
	if v, _ := m.Operation(op.ID); v.State != pipeline.OpInterrupted {
		t.Fatalf("after stop: %+v", v)
	}
	m = e.manager(t)
	s, _ := m.Get("ops")
	if s.Operation == nil || s.Operation.ID != op.ID || s.Operation.State != pipeline.OpInterrupted || s.Operation.Error == "" {
		t.Fatalf("after a restart: %+v", s.Operation)
	}
	if _, err := m.Operation("nope"); !errors.Is(err, pipeline.ErrNoOperation) {
		t.Fatalf("unknown id: %v", err)
	}
	op, err = m.StartRedrive("ops")
	if err != nil {
		t.Fatal(err)
	}
	e.fn.gate <- struct{}{}
	if op, err = m.Wait(ctx, op.ID); err != nil || op.State != pipeline.OpSucceeded || op.Progress.Succeeded != 10 {
		t.Fatalf("redrive after the restart: %+v %v", op, err)
	}
}

// dump is every version of every key of a table.
func (e *opsEnv) dump(t *testing.T, name string) map[string][]table.Version {
	t.Helper()
	out := map[string][]table.Version{}
	for k := range 5 {
		key := fmt.Sprintf("k%d", k)
		vs, err := e.store.History(context.Background(), name, key, time.Unix(0, 0), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		out[key] = vs
	}
	return out
}

// A rebuild runs while the pipeline writes: new inputs stored while the
// table is dropped, and a reset to the start while it is rebuilt (with a
// function that answers differently every time, beyond the stream
// output's read-back window), leave the rebuilt table equal to its twin
// that was never rebuilt, and the pipeline never fails on the missing
// table. Interrupted by a stop, a rebuild starts over at the next start.
func TestRebuildBesideThePipeline(t *testing.T) {
	e := newOpsEnv(t)
	m := e.manager(t)
	e.produce(t, 0, 1200, false)
	until(t, "the pipeline", caughtUp(m, 1200))
	if !reflect.DeepEqual(e.dump(t, "t1"), e.dump(t, "t2")) {
		t.Fatal("the twins differ before the rebuild")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var firstCalls int64
	pipeline.SetRebuildHook(m, func(stage string) {
		switch stage {
		case "dropped": // the pipeline writes the stream, then waits for the table
			e.produce(t, 1200, 1210, false)
			until(t, "the new outputs in the stream", func() bool { return e.count(t, "out") == 1210 })
		case "created":
			firstCalls = e.fn.calls.Load()
			if _, err := m.Reset(ctx, "ops", event.Position{Kind: event.Earliest}); err != nil {
				t.Error(err)
			}
			until(t, "the inputs again", func() bool { return e.fn.calls.Load() > firstCalls+2 && caughtUp(m, 1210)() })
		}
	})
	op, err := m.StartRebuild("t1")
	if err != nil || op.Kind != pipeline.KindRebuild || op.Table != "t1" || op.Pipeline != "ops" {
		t.Fatalf("start: %+v %v", op, err)
	}
	if op, err = m.Wait(ctx, op.ID); err != nil || op.State != pipeline.OpSucceeded || op.Progress.Succeeded != 1210 {
		t.Fatalf("rebuild: %+v %v", op, err)
	}
	until(t, "the pipeline", caughtUp(m, 1210))
	if s, _ := m.Get("ops"); s.LastError != "" {
		t.Fatalf("the pipeline failed meanwhile: %s", s.LastError)
	}
	t2 := e.dump(t, "t2")
	if t1 := e.dump(t, "t1"); !reflect.DeepEqual(t1, t2) {
		for k := range t1 {
			for i := range min(len(t1[k]), len(t2[k])) {
				if !reflect.DeepEqual(t1[k][i], t2[k][i]) {
					t.Fatalf("key %s version %d:\nrebuilt %s\ntwin    %s", k, i, t1[k][i].Value, t2[k][i].Value)
				}
			}
		}
		t.Fatal("the rebuilt table differs from its twin")
	}

	// A crash in the middle of a rebuild: the table holds part of its
	// versions, the KV says running. The next start rebuilds it.
	m.Stop()
	if err := e.store.Drop(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Create(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	kv, err := e.n.Engine.KV(ctx, "pipelines")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(pipeline.Operation{ID: "crashed", Kind: pipeline.KindRebuild, Pipeline: "ops", Table: "t1",
		State: pipeline.OpRunning, Started: time.Now().UTC()})
	if err := engine.Put(ctx, kv, "op.ops", raw); err != nil {
		t.Fatal(err)
	}
	m = e.manager(t)
	s, _ := m.Get("ops")
	if s.Operation == nil || s.Operation.Resumes != "crashed" || s.Operation.Kind != pipeline.KindRebuild {
		t.Fatalf("after the crash: %+v", s.Operation)
	}
	if op, err = m.Wait(ctx, s.Operation.ID); err != nil || op.State != pipeline.OpSucceeded {
		t.Fatalf("started over: %+v %v", op, err)
	}
	if !reflect.DeepEqual(e.dump(t, "t1"), t2) {
		t.Fatal("the table rebuilt after the crash differs from its twin")
	}
}
