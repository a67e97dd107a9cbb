package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/httpapi"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/stream"
)

// MaxDryRunEvents bounds the events of one dry run.
const MaxDryRunEvents = 100

// DryRun runs a pipeline spec that need not be saved (the UI's form, a
// change before it is applied) on the last events of its input stream:
// where, then the function, then the outputs' checks, the same step the
// running pipeline takes, and writes nothing.
func (n *Node) DryRun(ctx context.Context, name string, spec []byte, last int) (httpapi.DryRun, error) {
	if last <= 0 || last > MaxDryRunEvents {
		return httpapi.DryRun{}, &project.Invalid{Errors: config.FieldErrors{{Path: "last", Message: fmt.Sprintf("want 1 to %d", MaxDryRunEvents)}}}
	}
	v, err := n.Project.Check(ctx, catalog.Pipelines, name, spec)
	if err != nil {
		return httpapi.DryRun{}, err
	}
	pl := v.(config.Pipeline)
	tables, err := n.runtime.tablesOf(pl)
	if err != nil {
		return httpapi.DryRun{}, &project.Invalid{Errors: config.FieldErrors{{Path: "to", Message: err.Error()}}}
	}
	ps, err := pipelineSpec(name, pl, tables, n.Functions, n.OutputKinds, n.Streams, n.Tables, n.dataDir)
	if err != nil { // "function: invalid function config: ...": the path, then the problem
		path, msg, _ := strings.Cut(err.Error(), ": ")
		return httpapi.DryRun{}, &project.Invalid{Errors: config.FieldErrors{{Path: path, Message: msg}}}
	}
	defer closeSpec(ps)
	checks, err := pipeline.Checks(ctx, pipeline.WriteOrder(ps.To))
	if err != nil {
		return httpapi.DryRun{}, err
	}
	events, err := n.lastEvents(ctx, pl.From, last)
	if err != nil {
		return httpapi.DryRun{}, err
	}
	inputs := make([]json.RawMessage, len(events))
	for i, e := range events {
		inputs[i] = e.Data
	}
	step := pipeline.Step{Where: ps.Where, Function: ps.Function, Checks: checks}
	outcomes, err := step.Run(ctx, inputs)
	if err != nil && len(outcomes) != len(inputs) {
		return httpapi.DryRun{}, err
	}
	out := httpapi.DryRun{Pipeline: name, From: pl.From, Events: make([]httpapi.DryRunEvent, len(events))}
	for i, e := range events {
		o := outcomes[i]
		de := httpapi.DryRunEvent{Seq: e.Seq, ID: e.ID, Input: e.Data, Skipped: o.Skipped, Outputs: o.Outputs, Err: o.Err}
		if de.Outputs == nil {
			de.Outputs = []json.RawMessage{}
		}
		out.Events[i] = de
	}
	return out, nil
}

// lastEvents reads the last n events of a stream, oldest first.
func (n *Node) lastEvents(ctx context.Context, name string, count int) ([]event.Event, error) {
	st, err := n.Engine.State(ctx, name)
	if err != nil {
		return nil, err
	}
	if st.LastSeq == 0 || st.Messages == 0 {
		return nil, nil
	}
	from := st.FirstSeq
	if st.LastSeq >= uint64(count) && st.LastSeq-uint64(count)+1 > from {
		from = st.LastSeq - uint64(count) + 1
	}
	until := event.Position{Kind: event.Sequence, Seq: st.LastSeq + 1}
	c, err := n.Streams.Open(ctx, name, stream.Range{From: event.Position{Kind: event.Sequence, Seq: from}, Until: &until, Want: count})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out []event.Event
	for len(out) < count {
		e, err := c.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
