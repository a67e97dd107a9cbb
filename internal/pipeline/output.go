package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
)

// StreamOutput writes outputs into a stream, validated by its schema,
// de-duplicated by the ids derived from the input. Each message also
// carries its position on the pipeline's own subject, so after a restart
// the pipeline skips what it already wrote even past the stream's
// de-duplication window. For those, it puts the data it stored then into
// the Outs it is given, for the outputs written after it (see storedCopies);
// one it refused then is refused again (see refusedBefore).
type StreamOutput struct {
	svc      *stream.Service
	stream   string
	pipeline string
	written  string // the position of the last output written, "" if none
	// searched is the oldest position of the last read-back window, while
	// written has not moved since: older positions are not looked for again.
	searched, searchedAt string
}

// NewStreamOutput makes an output to a stream.
func NewStreamOutput(svc *stream.Service, pipeline, name string) *StreamOutput {
	return &StreamOutput{svc: svc, stream: name, pipeline: pipeline}
}

func (o *StreamOutput) Name() string { return streamOutputName(o.stream) }

func streamOutputName(stream string) string { return "stream:" + stream }

// Check is what the stream refuses now (its current schema, its id and
// time pointers, the limits): Write refuses the same, unless the schema
// changed in between.
func (o *StreamOutput) Check(ctx context.Context) (Check, error) {
	r, err := o.svc.Rules(ctx, o.stream)
	if err != nil {
		return Check{}, fmt.Errorf("output %s: %w", o.Name(), err)
	}
	return StreamCheck(o.stream, r), nil
}

// StreamCheck is the check of an output to a stream whose rules are r.
func StreamCheck(name string, r stream.Rules) Check {
	return Check{Output: streamOutputName(name), Refuse: func(_ int, data json.RawMessage) []schema.Violation { return r.Check(data) }}
}

// load reads the newest position written, once per run: the greatest
// among the stream's last readBack messages of the pipeline, which is the
// last one's unless outputs were written late (see refusedBefore).
func (o *StreamOutput) load(ctx context.Context) error {
	o.written, o.searched, o.searchedAt = "", "", ""
	err := o.readBack(ctx, readBack, func(e event.Event) {
		o.written = max(o.written, e.Position)
	})
	if err != nil {
		return fmt.Errorf("output %s: %w", o.Name(), err)
	}
	return nil
}

// readBack calls f, in stream order, with the pipeline's outputs among the
// stream's last n messages up to its last output (none if it wrote none).
// The last output, asked of the stream, must be among them: a read that
// misses it is an error (read again), never taken for "nothing there".
func (o *StreamOutput) readBack(ctx context.Context, n int, f func(event.Event)) error {
	last, err := o.svc.Engine().LastOf(ctx, o.stream, o.pipeline)
	if errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	from := uint64(1)
	if last.Seq > uint64(n) {
		from = last.Seq - uint64(n) + 1
	}
	cur, err := o.svc.Open(ctx, o.stream, stream.Range{From: event.Position{Kind: event.Sequence, Seq: from},
		Until: &event.Position{Kind: event.Sequence, Seq: last.Seq + 1}})
	if err != nil {
		return err
	}
	defer cur.Close()
	sawLast := false
	for {
		e, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if e.Origin != o.pipeline {
			continue
		}
		sawLast = sawLast || e.Seq == last.Seq
		f(e)
	}
	if !sawLast {
		return fmt.Errorf("read back %s %d-%d: the pipeline's last output, at %d, was not read", o.stream, from, last.Seq, last.Seq)
	}
	return nil
}

// Write stores outs. A redrive calls it from its own goroutine while the
// pipeline calls it from its own: outputs of a redrive (Redrive set, never
// mixed with the pipeline's in one call) neither read nor change the
// fields, so the two calls do not race.
func (o *StreamOutput) Write(ctx context.Context, outs []Out) (map[int][]schema.Violation, error) {
	var raws [][]byte
	var ids, poss []string
	var index []int
	var again map[string]int // position -> index in outs, of outputs written before
	origin := o.pipeline
	for i, out := range outs {
		if out.Redrive {
			origin = o.pipeline + "-redrive" // keeps the pipeline's own checkpoint where it is
		} else if o.written != "" && strings.Compare(out.Position, o.written) <= 0 {
			if again == nil {
				again = map[string]int{}
			}
			again[out.Position] = i // written before a crash: a redelivery
			outs[i].Stored = true
			continue
		}
		raws, ids, poss, index = append(raws, out.Data), append(ids, out.ID), append(poss, out.Position), append(index, i)
	}
	var invalid map[int][]schema.Violation
	if len(again) > 0 {
		missing, err := o.storedCopies(ctx, outs, again)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", o.Name(), err)
		}
		var lost []int
		if invalid, lost, err = o.refusedBefore(ctx, outs, missing); err != nil {
			return nil, fmt.Errorf("output %s: %w", o.Name(), err)
		}
		// Written now, before the new ones: the stream holds later outputs,
		// so these come after them in it (see refusedBefore).
		var lr [][]byte
		var li, lp []string
		for _, i := range lost {
			lr, li, lp = append(lr, outs[i].Data), append(li, outs[i].ID), append(lp, outs[i].Position)
		}
		raws, ids, poss, index = append(lr, raws...), append(li, ids...), append(lp, poss...), append(lost, index...)
	}
	if len(raws) == 0 {
		return invalid, nil
	}
	res, err := o.svc.ProduceFrom(ctx, o.stream, stream.Origin{Name: origin, Positions: poss, IDs: ids}, raws)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", o.Name(), err)
	}
	for _, inv := range res.Invalid {
		if invalid == nil {
			invalid = map[int][]schema.Violation{}
		}
		invalid[index[inv.Index]] = inv.Errors
	}
	if len(res.Events) > 0 && origin == o.pipeline {
		o.written = max(o.written, poss[res.Events[len(res.Events)-1].Index])
	}
	return invalid, nil
}

// readBack is how many of the stream's last messages storedCopies reads at
// least.
const readBack = 1000

// storedCopies gives the outputs this output stored before (again:
// position -> index in outs) the data it stored then: a function may answer
// differently the second time (a time of its own, a changed page), and the
// outputs written after this one (a table) must hold what the stream holds,
// so that rebuilding them from it gives the same. A redelivery after a crash
// or a failed output repeats the latest inputs, whose outputs are among the
// stream's last messages: only those are read. Older ones (a reset to an
// earlier position) keep the new data; outputs that write once (tables)
// keep what they had.
//
// missing lists (in order) the indexes in outs of those the stream does not
// hold though it holds an older output of the pipeline among the messages
// read: the stream refused them, or they were lost while a later one was
// stored (a stream leader that died while a batch was on its way). Ones
// older than every output read are taken as stored long ago.
func (o *StreamOutput) storedCopies(ctx context.Context, outs []Out, again map[string]int) (missing []int, err error) {
	newest := ""
	for p := range again {
		newest = max(newest, p)
	}
	if o.searchedAt == o.written && o.searched != "" && newest < o.searched {
		return nil, nil // older than the window read last time, and nothing was written since
	}
	o.searched, o.searchedAt = "", ""
	oldest := ""
	found := map[string]bool{}
	err = o.readBack(ctx, max(readBack, 2*len(again)), func(e event.Event) {
		if oldest == "" || e.Position < oldest {
			oldest = e.Position
		}
		if i, ok := again[e.Position]; ok {
			outs[i].Data = e.Data
			found[e.Position] = true
		}
	})
	if err != nil {
		return nil, err
	}
	o.searched, o.searchedAt = oldest, o.written
	for p, i := range again {
		if !found[p] && oldest != "" && p > oldest {
			missing = append(missing, i)
		}
	}
	slices.Sort(missing)
	return missing, nil
}

// refusedBefore sorts the outputs at missing (indexes in outs) that the
// stream does not hold though it holds later ones. Those it refuses now
// (why, in invalid) it refused when they were first written: refused
// again, their inputs go to the dead letters, from where a redrive writes
// them. The others were lost on the way while later ones were stored (a
// leader that died while a batch was in flight; the kill -9 suite saw 10
// such outputs dead-lettered before this) or refused then but not now (the
// function answered differently): lost lists them, written now, after the
// later ones. load takes the newest position among the last outputs, so
// written out of order they do not take the pipeline's resume back.
func (o *StreamOutput) refusedBefore(ctx context.Context, outs []Out, missing []int) (invalid map[int][]schema.Violation, lost []int, err error) {
	if len(missing) == 0 {
		return nil, nil, nil
	}
	raws := make([][]byte, len(missing))
	for j, i := range missing {
		raws[j] = outs[i].Data
		outs[i].Stored = false
	}
	res, err := o.svc.Check(ctx, o.stream, raws)
	if err != nil {
		return nil, nil, err
	}
	invalid = map[int][]schema.Violation{}
	for _, inv := range res {
		invalid[missing[inv.Index]] = inv.Errors
	}
	for _, i := range missing {
		if invalid[i] == nil {
			lost = append(lost, i)
		}
	}
	return invalid, lost, nil
}
