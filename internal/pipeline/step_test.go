package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/filter"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/jq"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
)

func outRules(t *testing.T) stream.Rules {
	t.Helper()
	b, err := schema.FromDocument("urn:out", []byte(`{"type":"object","required":["meta","n"],"properties":{"n":{"type":"integer","maximum":1000}}}`))
	if err != nil {
		t.Fatal(err)
	}
	sch, err := schema.Compile(b)
	if err != nil {
		t.Fatal(err)
	}
	def := catalog.Stream{Name: "out"}
	def.Defaults()
	return stream.Rules{Def: def, Schema: sch, Limits: stream.DefaultLimits}
}

// TestStep: where, then the function, then the outputs' checks; one
// outcome per input, in order.
func TestStep(t *testing.T) {
	where, err := filter.Compile(`event.kind == "keep"`)
	if err != nil {
		t.Fatal(err)
	}
	fn, err := jq.Spec.New(map[string]any{"program": `if .two then ({meta, n: .n}, {meta, n: (.n * 1000)}) else {meta, n: (.n * 2 + 0)} end`})
	if err != nil {
		t.Fatal(err)
	}
	table, err := pipeline.TableCheck("t", "event.meta.id", "/meta/dt", "")
	if err != nil {
		t.Fatal(err)
	}
	step := pipeline.Step{Where: where, Function: fn, Checks: []pipeline.Check{pipeline.StreamCheck("out", outRules(t)), table}}
	meta := `"meta":{"id":"a","dt":"2026-01-01T00:00:00Z"}`
	events := []json.RawMessage{
		json.RawMessage(`{` + meta + `,"kind":"keep","n":1}`),                         // one output
		json.RawMessage(`{` + meta + `,"kind":"skip","n":2}`),                         // where false
		json.RawMessage(`{` + meta + `,"n":3}`),                                       // where undecided: skipped
		json.RawMessage(`{` + meta + `,"kind":"keep","n":"x"}`),                       // the function fails
		json.RawMessage(`{` + meta + `,"kind":"keep","n":600}`),                       // over the stream's maximum
		json.RawMessage(`{"meta":{"id":"b"},"kind":"keep","n":4}`),                    // no time: the stream refuses it
		json.RawMessage(`{` + meta + `,"kind":"keep","n":5,"two":true}`),              // its second output is refused
		json.RawMessage(`{"meta":{"dt":"2026-01-01T00:00:00Z"},"kind":"keep","n":6}`), // no id: the stream refuses it, and the table's key cannot be evaluated
	}
	got, err := step.Run(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(events) {
		t.Fatalf("%d outcomes for %d inputs", len(got), len(events))
	}
	if o := got[0]; o.Skipped || o.Err != nil || len(o.Outputs) != 1 || string(o.Outputs[0]) != `{"meta":{"dt":"2026-01-01T00:00:00Z","id":"a"},"n":2}` {
		t.Errorf("0: %+v", o)
	}
	if !got[1].Skipped || !got[2].Skipped || got[1].Outputs != nil {
		t.Errorf("where: %+v %+v", got[1], got[2])
	}
	var re *pipeline.RefusedError
	if o := got[3]; o.Err == nil || errors.As(o.Err, &re) || !strings.Contains(o.Err.Error(), "cannot") {
		t.Errorf("3: %+v", o)
	}
	refused := func(i int, output string, index int, ptr, rule string) {
		t.Helper()
		var re *pipeline.RefusedError
		if !errors.As(got[i].Err, &re) || re.Output != output || re.Index != index || re.Violations[0].Pointer != ptr || re.Violations[0].Keyword != rule {
			t.Errorf("%d: want %s refusing output %d at %s (%s), got %+v", i, output, index, ptr, rule, got[i])
		}
	}
	refused(4, "stream:out", 0, "/n", "maximum")
	refused(5, "stream:out", 0, "/meta/dt", stream.RuleTime)
	refused(6, "stream:out", 1, "/n", "maximum")
	refused(7, "stream:out", 0, "/meta/id", stream.RuleID)
	if msg := got[4].Err.Error(); msg != "output stream:out refused the function's output 0: /n: maximum: got 1,200, want 1,000" {
		t.Errorf("message: %s", msg)
	}
	if len(got[6].Outputs) != 2 {
		t.Errorf("the refused outputs are kept: %+v", got[6])
	}

	// The table's check alone: its key must evaluate on the first output.
	step.Checks = []pipeline.Check{table}
	got, err = step.Run(context.Background(), events[7:])
	if err != nil {
		t.Fatal(err)
	}
	var tre *pipeline.RefusedError
	if !errors.As(got[0].Err, &tre) || tre.Output != "table:t" || tre.Violations[0].Keyword != "sluice.key" {
		t.Errorf("table: %+v", got[0])
	}
}

// blocking answers when ctx ends, with errors.
type blocking struct{ called chan struct{} }

func (b blocking) Call(ctx context.Context, events []json.RawMessage) []function.Result {
	close(b.called)
	<-ctx.Done()
	out := make([]function.Result, len(events))
	for i := range out {
		out[i].Err = ctx.Err()
	}
	return out
}

// TestStepContext: a step whose ctx ends gives no outcome, and calls no
// function if it ended before.
func TestStepContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b := blocking{called: make(chan struct{})}
	go func() { <-b.called; cancel() }()
	got, err := pipeline.Step{Function: b}.Run(ctx, []json.RawMessage{json.RawMessage(`{}`)})
	if !errors.Is(err, context.Canceled) || got != nil {
		t.Fatalf("%+v %v", got, err)
	}
	b = blocking{called: make(chan struct{})}
	if _, err := (pipeline.Step{Function: b}).Run(ctx, []json.RawMessage{json.RawMessage(`{}`)}); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	select {
	case <-b.called:
		t.Fatal("called after ctx ended")
	default:
	}
}

// unavailable fails every event with function.ErrUnavailable.
type unavailable struct{}

func (unavailable) Call(_ context.Context, events []json.RawMessage) []function.Result {
	out := make([]function.Result, len(events))
	for i := range out {
		out[i].Err = function.ErrUnavailable
	}
	return out
}

// TestStepUnavailable: a function that cannot answer now is the batch's
// error, not its inputs'.
func TestStepUnavailable(t *testing.T) {
	got, err := pipeline.Step{Function: unavailable{}}.Run(context.Background(), []json.RawMessage{json.RawMessage(`{}`), json.RawMessage(`{}`)})
	if !errors.Is(err, function.ErrUnavailable) || len(got) != 2 {
		t.Fatalf("%+v %v", got, err)
	}
}
