package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/stream"
)

// RebuildTable empties a table and writes it again from the stream output
// of the pipeline that feeds it: each output message carries the position
// of the input it came from, so the versions are the same ones, with the
// same sources. The pipeline waits meanwhile.
func (m *Manager) RebuildTable(ctx context.Context, name string) (int, error) {
	var r *runner
	var tout *TableOutput
	var sout *StreamOutput
	for _, pn := range m.order {
		var t *TableOutput
		var s *StreamOutput
		for _, o := range m.runners[pn].spec.To {
			switch x := o.(type) {
			case *TableOutput:
				if x.name == name {
					t = x
				}
			case *StreamOutput:
				s = x
			}
		}
		if t != nil {
			r, tout, sout = m.runners[pn], t, s
			break
		}
	}
	if r == nil {
		return 0, fmt.Errorf("%w: no pipeline writes table %q", ErrNotFound, name)
	}
	if sout == nil {
		return 0, fmt.Errorf("table %q: pipeline %q has no stream output to rebuild it from", name, r.spec.Name)
	}
	written := 0
	err := m.do(ctx, r.spec.Name, func(ctx context.Context) error {
		if err := tout.store.Drop(ctx, name); err != nil {
			return err
		}
		if err := tout.store.Create(ctx, name); err != nil {
			return err
		}
		cur, err := m.svc.Open(ctx, sout.stream, stream.Range{From: event.Position{Kind: event.Earliest}})
		if err != nil {
			return err
		}
		defer cur.Close()
		var batch []Out
		flush := func() error {
			if _, err := tout.Write(ctx, batch); err != nil {
				return err
			}
			written += len(batch)
			batch = batch[:0]
			return nil
		}
		for {
			e, err := cur.Next(ctx)
			if errors.Is(err, io.EOF) {
				return flush()
			}
			if err != nil {
				return err
			}
			if e.Origin != r.spec.Name && e.Origin != r.spec.Name+"-redrive" {
				continue // written by someone else
			}
			batch = append(batch, Out{Data: e.Data, Position: e.Position})
			if len(batch) == 1000 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	})
	if err == nil {
		m.log.Info("table rebuilt", "table", name, "from", sout.stream, "outputs", written)
	}
	return written, err
}
