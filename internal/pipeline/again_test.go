package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
)

// stamping answers differently on every call, as a function that records
// when it asked an API does.
type stamping struct{ calls atomic.Int64 }

func (f *stamping) Call(_ context.Context, events []json.RawMessage) []function.Result {
	call := f.calls.Add(1)
	out := make([]function.Result, len(events))
	for i, e := range events {
		var in struct{ Meta struct{ ID, DT string } }
		_ = json.Unmarshal(e, &in)
		out[i].Outputs = []json.RawMessage{fmt.Appendf(nil, `{"meta":{"id":"%s-o","dt":%q},"n":%d}`, in.Meta.ID, in.Meta.DT, call)}
	}
	return out
}

// flaky fails its first write (as an output whose database is down, or a
// process killed between two outputs), then records what it is given.
type flaky struct {
	mu     sync.Mutex
	writes int
	got    map[string]string // position -> data
}

func (o *flaky) Name() string { return "flaky" }

func (o *flaky) Write(_ context.Context, outs []pipeline.Out) (map[int][]schema.Violation, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.writes++; o.writes == 1 {
		return nil, errors.New("down")
	}
	for _, out := range outs {
		if _, ok := o.got[out.Position]; !ok {
			o.got[out.Position] = string(out.Data)
		}
	}
	return nil, nil
}

// When an input comes again after its stream output was written, the
// function answers differently, but the outputs after the stream get what
// the stream stored the first time: a table rebuilt from the stream equals
// the table.
func TestRedeliveryWritesTheStoredCopy(t *testing.T) {
	n := startInOut(t)
	m, err := pipeline.NewManager(context.Background(), n.Streams, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	fn, fl := &stamping{}, &flaky{got: map[string]string{}}
	// The flaky output comes first in the config; the stream is written first anyway.
	if err := m.Add(pipeline.Spec{Name: "again", From: "in", Start: event.Position{Kind: event.Earliest}, Function: fn,
		To: []pipeline.Output{fl, pipeline.NewStreamOutput(n.Streams, "again", "out")}}); err != nil {
		t.Fatal(err)
	}
	produce(t, n, 1, 21, "")
	m.Start(context.Background())
	defer m.Stop()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		s, _ := m.Get("again")
		if s.Position >= 20 && s.LagEvents == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%+v", s)
		}
	}
	if fn.calls.Load() < 2 {
		t.Fatalf("%d calls: the batch did not come again", fn.calls.Load())
	}
	c, err := n.Streams.Open(context.Background(), "out", stream.Range{From: event.Position{Kind: event.Earliest}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stored := 0
	for ; ; stored++ {
		e, err := c.Next(context.Background())
		if err != nil {
			break
		}
		if got := fl.got[e.Position]; got != string(e.Data) {
			t.Fatalf("%s: the stream holds %s, the next output got %s", e.Position, e.Data, got)
		}
	}
	if stored != 20 || len(fl.got) != 20 {
		t.Fatalf("%d in the stream, %d in the other output", stored, len(fl.got))
	}
}
