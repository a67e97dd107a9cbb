package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/stream"
)

// redriveBatch is how many dead letters one function call of a redrive
// carries: the progress moves, and a cancel is seen, between two.
const redriveBatch = 50

// StartRedrive submits every dead letter of a pipeline again (after a
// fix), as an operation beside the pipeline: those that now succeed are
// written to the outputs and then removed from "<pipeline>.errors"; the
// others stay. Dead letters added while it runs are left for the next.
func (m *Manager) StartRedrive(name string) (Operation, error) {
	if _, err := m.runner(name); err != nil {
		return Operation{}, err
	}
	return m.ops.start(Operation{Kind: KindRedrive, Pipeline: name}, func(ctx context.Context, o *op) error {
		// Taken now: the pipeline cannot be put anew while this runs (see
		// operations.hold), but it may have been just before.
		r, err := m.runner(name)
		if err != nil {
			return err
		}
		return m.redrive(ctx, r, o)
	})
}

// deadLetter is a dead letter read back, with its sequence in the stream.
type deadLetter struct {
	seq uint64
	f   Failure
}

func (m *Manager) redrive(ctx context.Context, r *runner, o *op) error {
	name := r.spec.Name + ErrorsSuffix
	if _, err := m.svc.Get(ctx, name); errors.Is(err, catalog.ErrNotFound) {
		return nil // the pipeline never ran, so there are none
	} else if err != nil {
		return err
	}
	st, err := m.svc.Engine().State(ctx, name)
	if err != nil {
		return err
	}
	o.setTotal(st.Messages)
	cur, err := m.svc.Open(ctx, name, stream.Range{From: event.Position{Kind: event.Earliest}})
	if err != nil {
		return err
	}
	defer cur.Close()
	var batch []deadLetter
	for {
		e, err := cur.Next(ctx)
		end := errors.Is(err, io.EOF)
		if err != nil && !end {
			return err
		}
		if !end {
			var f Failure
			if err := json.Unmarshal(e.Data, &f); err != nil || f.Pipeline != r.spec.Name {
				o.progress(func(p *Progress) { p.Done++ }) // not one of this pipeline's
				continue
			}
			batch = append(batch, deadLetter{e.Seq, f})
		}
		if len(batch) == redriveBatch || end && len(batch) > 0 {
			if err := m.redriveSome(ctx, r, name, batch, o); err != nil {
				return err
			}
			m.ops.saveSoon(o)
			batch = batch[:0]
		}
		if end {
			return nil
		}
	}
}

// redriveSome calls the function on a batch of dead letters, writes the
// outputs of those that succeed, then removes them. A failure of an output
// (not a refusal) ends the operation: the batch's dead letters stay.
func (m *Manager) redriveSome(ctx context.Context, r *runner, name string, dls []deadLetter, o *op) error {
	failed := make([]error, len(dls))
	var events []json.RawMessage
	var index []int // of dls, per event
	for i, dl := range dls {
		ev, err := m.redriveInput(ctx, dl.f)
		if err != nil {
			failed[i] = err
			continue
		}
		events, index = append(events, ev), append(index, i)
	}
	var outs []Out
	var outOf []int // of dls, per output
	if len(events) > 0 {
		step, err := r.step(ctx)
		if err != nil {
			return err
		}
		step.Where = nil // a dead letter passed where when it failed
		outcomes, err := step.Run(ctx, events)
		if ctx.Err() != nil {
			return ctx.Err() // canceled: the answers may be cut short; nothing counted
		}
		if err != nil && !errors.Is(err, function.ErrUnavailable) { // unavailable: each one's error, it stays
			return err
		}
		for j, res := range outcomes {
			i := index[j]
			if res.Err != nil {
				failed[i] = res.Err
				continue
			}
			in := dls[i].f.Input
			for k, d := range res.Outputs {
				outs = append(outs, Out{Data: d, ID: fmt.Sprintf("%s:%s:%d", r.spec.Name, in.ID, k),
					Position: fmt.Sprintf("%020d:%06d", in.Seq, k), Redrive: true})
				outOf = append(outOf, i)
			}
		}
	}
	for _, out := range r.outputOrder() { // streams first, as the pipeline does
		var give []Out
		var from []int
		for k, x := range outs {
			if failed[outOf[k]] == nil { // refused by an output before: not written further
				give, from = append(give, x), append(from, outOf[k])
			}
		}
		if len(give) == 0 {
			break
		}
		invalid, err := out.Write(ctx, give)
		if err != nil {
			return err
		}
		for k, vs := range invalid {
			if i := from[k]; failed[i] == nil {
				_, index, _ := splitOutPosition(give[k].Position)
				failed[i] = &RefusedError{Output: out.Name(), Index: index, Violations: vs}
			}
		}
	}
	// Every output of the others is written: they leave the dead letters,
	// even if the operation was canceled meanwhile.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var again uint64
	for i, dl := range dls {
		if failed[i] != nil {
			again++
			m.log.Info("redrive failed again", "pipeline", r.spec.Name, "input", dl.f.Input.Seq, "err", failed[i])
			continue
		}
		if err := m.cons.DeleteMsg(dctx, name, dl.seq); err != nil {
			return fmt.Errorf("remove dead letter %d: %w", dl.seq, err)
		}
		o.progress(func(p *Progress) { p.Done++; p.Succeeded++ })
	}
	o.progress(func(p *Progress) { p.Done += again; p.Failed += again })
	return nil
}

// redriveInput is the input of a dead letter: as it kept it, or read from
// the input stream again when it kept only part of it. An input that is
// not an event (published straight to NATS) fails again.
func (m *Manager) redriveInput(ctx context.Context, f Failure) (json.RawMessage, error) {
	in := f.Input
	switch {
	case in.Foreign:
		return nil, fmt.Errorf("input %s#%d is not an event sluice stored (it was published straight to NATS): it cannot be redriven", in.Stream, in.Seq)
	case in.EventBase64 != "" && !in.Truncated:
		return nil, fmt.Errorf("input %s#%d is not JSON: it cannot be redriven", in.Stream, in.Seq)
	case !in.Truncated && len(in.Event) > 0 && string(in.Event) != "null":
		return in.Event, nil
	}
	msg, err := m.svc.Engine().Get(ctx, in.Stream, in.Seq)
	if errors.Is(err, engine.ErrNotFound) || err == nil && msg.Seq != in.Seq {
		return nil, fmt.Errorf("input %s#%d: the dead letter holds only part of it, and the stream no longer has it", in.Stream, in.Seq)
	}
	if err != nil {
		return nil, fmt.Errorf("read input %s#%d: %w", in.Stream, in.Seq, err)
	}
	e := stream.EventOf(msg)
	if err := stream.NotEvent(e); err != nil {
		return nil, fmt.Errorf("input %s#%d: %w", in.Stream, in.Seq, err)
	}
	return e.Data, nil
}
