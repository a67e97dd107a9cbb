package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/pipeline"
)

// holdFn holds each input whose id starts with "hold" until the test
// releases it, telling got first; it writes no output.
type holdFn struct {
	got     chan string
	release chan struct{}
}

func (f *holdFn) Call(ctx context.Context, events []json.RawMessage) []function.Result {
	out := make([]function.Result, len(events))
	for _, e := range events {
		var in struct{ Meta struct{ ID string } }
		_ = json.Unmarshal(e, &in)
		if !strings.HasPrefix(in.Meta.ID, "hold") {
			continue
		}
		f.got <- in.Meta.ID
		select {
		case <-f.release:
		case <-ctx.Done():
			for i := range out {
				out[i].Err = ctx.Err()
			}
			return out
		}
	}
	return out
}

// oldInputs stores events with the given ids whose event time is years ago
// (a replay of an archive).
func oldInputs(t *testing.T, e *opsEnv, ids ...string) {
	t.Helper()
	var raws [][]byte
	for _, id := range ids {
		raws = append(raws, fmt.Appendf(nil, `{"meta":{"id":%q,"dt":"2023-01-01T00:00:00Z"},"n":1}`, id))
	}
	if _, err := e.n.Streams.Produce(context.Background(), "in", raws); err != nil {
		t.Fatal(err)
	}
}

// TestLagOfReplayedEvents: the lag in time of a pipeline fed events whose
// event time is years old is how long its oldest waiting input has been
// stored: small while one waits, 0 once none does (not years).
func TestLagOfReplayedEvents(t *testing.T) {
	e := newOpsEnv(t)
	m := emptyManager(t, e, nil)
	fn := &holdFn{got: make(chan string), release: make(chan struct{})}
	if err := m.Put(context.Background(), pipeline.Spec{Name: "lag", From: "in", Start: event.Position{Kind: event.Earliest},
		FunctionName: "hold", Function: fn}, pipeline.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func() pipeline.Status { s, _ := m.Get("lag"); return s }
	oldInputs(t, e, "a", "b")
	until(t, "caught up", func() bool { s := get(); return s.Position == 2 && s.LagEvents == 0 && s.LagSeconds != nil })
	if s := get(); *s.LagSeconds != 0 || s.LastEventTime == nil || s.LastEventTime.Year() != 2023 {
		t.Fatalf("caught up on old events: lag %vs, last event time %v; want 0 and 2023", *s.LagSeconds, s.LastEventTime)
	}
	// hold1 is in the function when hold2 is stored; once hold1 is done,
	// hold2 waits (then it is held too).
	oldInputs(t, e, "hold1")
	if id := <-fn.got; id != "hold1" {
		t.Fatalf("function got %s", id)
	}
	oldInputs(t, e, "hold2")
	fn.release <- struct{}{}
	if id := <-fn.got; id != "hold2" {
		t.Fatalf("function got %s", id)
	}
	s := get()
	if s.Position != 3 || s.LagEvents != 1 || s.LagSeconds == nil || *s.LagSeconds <= 0 || *s.LagSeconds > 3600 {
		t.Fatalf("one old input waiting: %+v (lag %v), want position 3, 1 event, a lag of seconds", s, s.LagSeconds)
	}
	fn.release <- struct{}{}
	until(t, "caught up again", func() bool { s := get(); return s.Position == 4 && s.LagEvents == 0 })
	if s := get(); s.LagSeconds == nil || *s.LagSeconds != 0 {
		t.Fatalf("caught up: lag %v, want 0", s.LagSeconds)
	}
}
