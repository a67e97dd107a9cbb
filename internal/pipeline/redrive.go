package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/stream"
)

// Redriven says what a redrive did.
type Redriven struct {
	Tried     int `json:"tried"`
	Succeeded int `json:"succeeded"` // handled now; removed from the dead letters
	Failed    int `json:"failed"`    // failed again; kept, with their first error
}

// Redrive submits every dead letter of a pipeline again (after a fix):
// those that now succeed are written to the outputs and removed from
// "<pipeline>.errors"; the others stay.
func (m *Manager) Redrive(ctx context.Context, name string) (Redriven, error) {
	r, err := m.runner(name)
	if err != nil {
		return Redriven{}, err
	}
	var out Redriven
	err = m.do(ctx, name, func(ctx context.Context) error {
		if r.errors == "" {
			return nil // the pipeline never ran, so there are none
		}
		cur, err := m.svc.Open(ctx, r.errors, stream.Range{From: event.Position{Kind: event.Earliest}})
		if err != nil {
			return err
		}
		defer cur.Close()
		for {
			e, err := cur.Next(ctx)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			var f Failure
			if err := json.Unmarshal(e.Data, &f); err != nil || f.Pipeline != name {
				continue
			}
			out.Tried++
			if err := r.redriveOne(ctx, f); err != nil {
				out.Failed++
				m.log.Info("redrive failed again", "pipeline", name, "input", f.Input.Seq, "err", err)
				continue
			}
			if err := m.cons.DeleteMsg(ctx, r.errors, e.Seq); err != nil {
				return err
			}
			out.Succeeded++
		}
	})
	return out, err
}

func (r *runner) redriveOne(ctx context.Context, f Failure) error {
	res := r.spec.Function.Call(ctx, []json.RawMessage{f.Input.Event})
	if res[0].Err != nil {
		return res[0].Err
	}
	outs := make([]Out, len(res[0].Outputs))
	for k, o := range res[0].Outputs {
		outs[k] = Out{Data: o, ID: fmt.Sprintf("%s:%s:%d", r.spec.Name, f.Input.ID, k),
			Position: fmt.Sprintf("%020d:%06d", f.Input.Seq, k), Redrive: true}
	}
	for _, o := range r.spec.To {
		invalid, err := o.Write(ctx, outs)
		if err != nil {
			return err
		}
		for _, vs := range invalid {
			return fmt.Errorf("output %s refused the result: %s: %s: %s", o.Name(), vs[0].Pointer, vs[0].Keyword, vs[0].Message)
		}
	}
	return nil
}
