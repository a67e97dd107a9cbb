package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/stream"
)

// ErrCannotRebuild is returned for a table whose pipeline has no stream
// output to rebuild it from.
var ErrCannotRebuild = errors.New("cannot rebuild")

// A rebuild writes a transaction per rebuildBatch outputs, or sooner when
// they reach rebuildBatchBytes: its memory is bounded whatever their size.
const (
	rebuildBatch      = 1000
	rebuildBatchBytes = 8 << 20
)

// StartRebuild empties a table and writes it again from the stream output
// of the pipeline that feeds it, as an operation of that pipeline: each
// output message carries the position of the input it came from, so the
// versions are the same ones, with the same sources. The pipeline goes on
// meanwhile; see rebuild for why its writes are not lost.
func (m *Manager) StartRebuild(table string) (Operation, error) { return m.startRebuild(table, "") }

func (m *Manager) startRebuild(table, resumes string) (Operation, error) {
	r, _, _, err := m.feeder(table)
	if err != nil {
		return Operation{}, err
	}
	return m.ops.start(Operation{Kind: KindRebuild, Pipeline: r.spec.Name, Table: table, Resumes: resumes},
		func(ctx context.Context, o *op) error {
			// Found again now: the pipeline cannot be put anew while this
			// runs (see operations.hold), but it may have been just before.
			nr, tout, sout, err := m.feeder(table)
			if err != nil {
				return err
			}
			if nr.spec.Name != r.spec.Name {
				return fmt.Errorf("table %q is now fed by pipeline %q", table, nr.spec.Name)
			}
			return m.rebuild(ctx, nr, tout, sout, o)
		})
}

// feeder finds the pipeline that writes a table, and its stream output.
func (m *Manager) feeder(table string) (*runner, *TableOutput, *StreamOutput, error) {
	for _, e := range m.runners.List() {
		pn := e.Name
		var t *TableOutput
		var s *StreamOutput
		for _, o := range e.Component.spec.To {
			switch x := o.(type) {
			case *TableOutput:
				if x.name == table {
					t = x
				}
			case *StreamOutput:
				s = x
			}
		}
		if t == nil {
			continue
		}
		if s == nil {
			return nil, nil, nil, fmt.Errorf("%w: table %q: pipeline %q has no stream output to rebuild it from", ErrCannotRebuild, table, pn)
		}
		return e.Component, t, s, nil
	}
	return nil, nil, nil, fmt.Errorf("%w: no pipeline writes table %q", ErrNotFound, table)
}

// rebuild runs while the pipeline goes on writing. Its outputs are not
// lost, nor do they change what the rebuild gives:
//   - The table is dropped and created under the output's gate, so no
//     write of the pipeline meets it missing in between (which would fail
//     its batch and hold the pipeline in backoff).
//   - The pipeline writes its stream output before the table. An output in
//     the stream when the rebuild opens its cursor (after the table was
//     created again) is read by the rebuild; any later one is written by
//     the pipeline into the new table.
//   - While the rebuild runs, the table skips outputs the stream output had
//     stored before (a redelivery or a reset), which may carry a new answer
//     of the function: the rebuild writes what the stream holds, and a
//     version is written once, so the new answer must not come first.
func (m *Manager) rebuild(ctx context.Context, r *runner, tout *TableOutput, sout *StreamOutput, o *op) error {
	st, err := m.svc.Engine().State(ctx, sout.stream)
	if err != nil {
		return err
	}
	o.setTotal(st.Messages)
	tout.rebuilding.Add(1)
	defer tout.rebuilding.Add(-1)
	hook := func(string) {}
	if m.rebuildHook != nil {
		hook = m.rebuildHook
	}
	if err := tout.recreate(ctx, func() { hook("dropped") }); err != nil {
		return err
	}
	hook("created")
	cur, err := m.svc.Open(ctx, sout.stream, stream.Range{From: event.Position{Kind: event.Earliest}})
	if err != nil {
		return err
	}
	defer cur.Close()
	var batch []Out
	var read, size uint64
	flush := func() error {
		invalid, err := tout.Write(ctx, batch)
		if err != nil {
			return err
		}
		n, bad := uint64(len(batch)), uint64(len(invalid))
		o.progress(func(p *Progress) { p.Done += read; p.Succeeded += n - bad; p.Failed += bad })
		m.ops.saveSoon(o)
		batch, read, size = batch[:0], 0, 0
		return nil
	}
	for {
		e, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			if err := flush(); err != nil {
				return err
			}
			m.log.Info("table rebuilt", "table", tout.name, "from", sout.stream, "outputs", o.view().Progress.Succeeded)
			return nil
		}
		if err != nil {
			return err
		}
		read++
		if e.Origin != r.spec.Name && e.Origin != r.spec.Name+"-redrive" || stream.NotEvent(e) != nil {
			continue // written by someone else, or not through sluice at all
		}
		batch = append(batch, Out{Data: e.Data, Position: e.Position})
		if size += uint64(len(e.Data)); len(batch) == rebuildBatch || size >= rebuildBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}
