package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sluice-dev/sluice/internal/filter"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/schema"
)

// Step is what a pipeline does to a batch of inputs before anything is
// written: where, then the function, then the outputs' checks. It is the
// one path of a running pipeline, of an invoke (a dry run) and of `sluice
// test`, so a test fails, and an invoke reports an error, exactly when the
// pipeline would dead-letter the input. It does no I/O of its own: the
// function is the only call out.
type Step struct {
	Where    *filter.Filter // nil: every input
	Function function.Function
	// Checks are the outputs' checks, in the order the pipeline writes
	// them (streams first): the first refusal is the input's error.
	Checks []Check
}

// Check is what one output would refuse, known before it writes.
type Check struct {
	Output string // the output's name, as dead letters give it ("stream:out")
	// Refuse says why the output would refuse data, the k-th output of its
	// input; nil if it would take it. It must be safe for concurrent use.
	Refuse func(k int, data json.RawMessage) []schema.Violation
}

// Checker is an output that can tell what it would refuse before it
// writes. Outputs that are not Checkers can still refuse at write time
// (Output.Write's invalid).
type Checker interface {
	// Check returns the output's check as it stands now (a stream's
	// current schema): one per batch.
	Check(ctx context.Context) (Check, error)
}

// Checks are the checks of the outputs that are Checkers, in order.
func Checks(ctx context.Context, outputs []Output) ([]Check, error) {
	var out []Check
	for _, o := range outputs {
		if c, ok := o.(Checker); ok {
			chk, err := c.Check(ctx)
			if err != nil {
				return nil, err
			}
			out = append(out, chk)
		}
	}
	return out, nil
}

// Outcome is what the step made of one input: skipped by where, or the
// function's outputs, or an error (the function's, or a *RefusedError).
// Outputs may be set beside a RefusedError: they are what was refused.
type Outcome struct {
	Skipped bool
	Outputs []json.RawMessage
	Err     error
}

// RefusedError is a function's output that an output refuses: a bug of the
// function (or of the output's schema), which dead-letters the input.
type RefusedError struct {
	Output     string             // the output's name ("stream:out")
	Index      int                // which of the input's outputs
	Violations []schema.Violation // why, as the output reports it; at least one
}

func (e *RefusedError) Error() string {
	v := e.Violations[0]
	ptr := v.Pointer
	if ptr == "" {
		ptr = "/"
	}
	return fmt.Sprintf("output %s refused the function's output %d: %s: %s: %s", e.Output, e.Index, ptr, v.Keyword, v.Message)
}

// Run returns one Outcome per event, in order. An input that where cannot
// decide on (a missing field) is skipped, as SQL leaves out NULL. The
// error is the batch's, not an input's, and the batch should come again:
// ctx ended (no outcomes), or the function is unavailable
// (function.ErrUnavailable: the outcomes carry it, unchecked).
func (s Step) Run(ctx context.Context, events []json.RawMessage) ([]Outcome, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]Outcome, len(events))
	var pass []json.RawMessage
	var index []int // of events, per event passed
	for i, ev := range events {
		if s.Where != nil {
			doc, err := schema.Decode(ev)
			if err != nil {
				out[i].Err = fmt.Errorf("input is not JSON: %w", err)
				continue
			}
			if ok, err := s.Where.Match(doc); err != nil || !ok {
				out[i].Skipped = true
				continue
			}
		}
		pass, index = append(pass, ev), append(index, i)
	}
	if len(pass) == 0 {
		return out, nil
	}
	results := s.Function.Call(ctx, pass)
	if err := ctx.Err(); err != nil {
		return nil, err // the answers may be cut short
	}
	if len(results) != len(pass) {
		return nil, fmt.Errorf("the function answered %d results for %d events", len(results), len(pass))
	}
	for j, res := range results {
		out[index[j]].Outputs, out[index[j]].Err = res.Outputs, res.Err
	}
	if err := function.Unavailable(results); err != nil {
		return out, err
	}
	for i := range out {
		if !out[i].Skipped && out[i].Err == nil {
			out[i].Err = s.check(out[i].Outputs)
		}
	}
	return out, nil
}

// check is the first refusal of an input's outputs, output by output.
func (s Step) check(outs []json.RawMessage) error {
	for _, c := range s.Checks {
		for k, o := range outs {
			if vs := c.Refuse(k, o); len(vs) > 0 {
				return &RefusedError{Output: c.Output, Index: k, Violations: vs}
			}
		}
	}
	return nil
}
