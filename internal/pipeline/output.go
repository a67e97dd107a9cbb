package pipeline

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
)

// StreamOutput writes outputs into a stream, validated by its schema,
// de-duplicated by the ids derived from the input. Each message also
// carries its position on the pipeline's own subject, so after a restart
// the pipeline skips what it already wrote even past the stream's
// de-duplication window.
type StreamOutput struct {
	svc      *stream.Service
	stream   string
	pipeline string
	written  string // the position of the last output written, "" if none
}

// NewStreamOutput makes an output to a stream.
func NewStreamOutput(svc *stream.Service, pipeline, name string) *StreamOutput {
	return &StreamOutput{svc: svc, stream: name, pipeline: pipeline}
}

func (o *StreamOutput) Name() string { return "stream:" + o.stream }

// load reads the last position written, once per run.
func (o *StreamOutput) load(ctx context.Context) error {
	pos, _, err := o.svc.LastPosition(ctx, o.stream, o.pipeline)
	if err != nil {
		return fmt.Errorf("output %s: %w", o.Name(), err)
	}
	o.written = pos
	return nil
}

func (o *StreamOutput) Write(ctx context.Context, outs []Out) (map[int][]schema.Violation, error) {
	var raws [][]byte
	var ids, poss []string
	var index []int
	origin := o.pipeline
	for i, out := range outs {
		if out.Redrive {
			origin = o.pipeline + "-redrive" // keeps the pipeline's own checkpoint where it is
		} else if o.written != "" && strings.Compare(out.Position, o.written) <= 0 {
			continue // written before a crash: a redelivery
		}
		raws, ids, poss, index = append(raws, out.Data), append(ids, out.ID), append(poss, out.Position), append(index, i)
	}
	if len(raws) == 0 {
		return nil, nil
	}
	res, err := o.svc.ProduceFrom(ctx, o.stream, stream.Origin{Name: origin, Positions: poss, IDs: ids}, raws)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", o.Name(), err)
	}
	var invalid map[int][]schema.Violation
	for _, inv := range res.Invalid {
		if invalid == nil {
			invalid = map[int][]schema.Violation{}
		}
		invalid[index[inv.Index]] = inv.Errors
	}
	if len(res.Events) > 0 && origin == o.pipeline {
		o.written = poss[res.Events[len(res.Events)-1].Index]
	}
	return invalid, nil
}
