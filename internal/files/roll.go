package files

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/stream"
)

// span is the object being gathered: where it starts and ends so far.
type span struct {
	partition   string
	first, last uint64
	events      int
	bytes       int64 // the events as NDJSON
	opened      time.Time
	// foreign are the sequences in the span that are not events sluice
	// stored (nil if none: they are rare), checked once, in roller.add.
	foreign map[uint64]bool
}

// roller decides where objects end. It keeps no event, only counters, and
// the last delivery, whose acknowledgement covers every earlier one.
//
// Cuts: an object ends before an event of another partition, and after the
// event that brings it to MaxBytes or to MaxEvents sequences; these depend
// on the events alone, so a replay cuts the same way. It also ends MaxAge
// after its first event arrived, which depends on the clock: that is safe
// because an object starting at S is looked up before it is written again.
type roller struct {
	s      *Sink
	high   uint64 // highest sequence seen: later deliveries at or below it are repeats
	skipTo uint64 // sequences up to here are in an object committed before
	open   *span
	last   *engine.Delivery // the last delivery handled
	acked  uint64           // the sequence last acknowledged
}

// add handles one delivery.
func (r *roller) add(ctx context.Context, d engine.Delivery) error {
	if d.Seq <= r.high {
		return nil // delivered again after AckWait: already handled
	}
	r.high = d.Seq
	e := stream.EventOf(d.Stored)
	if d.Seq <= r.skipTo || !r.s.ours(e) {
		r.last = &d
		return nil
	}
	if err := stream.NotEvent(e); err != nil {
		r.s.foreign(e, err)
		if r.open != nil { // the object's writer reads the span again: it skips this one
			if r.open.foreign == nil {
				r.open.foreign = map[uint64]bool{}
			}
			r.open.foreign[d.Seq] = true
		}
		r.last = &d
		return nil
	}
	p := r.s.part.Render(r.s.opts.Stream, e)
	if r.open != nil && p != r.open.partition {
		if err := r.commit(ctx); err != nil {
			return err
		}
	}
	if r.open == nil {
		last, key, found, err := committed(ctx, r.s.bucket, p, d.Seq)
		if err != nil {
			return err
		}
		if found {
			r.s.log.Info("files output found an object committed before; skipping it", "object", key)
			r.s.st.set(func(st *Status) { st.Skipped++ })
			r.skipTo, r.last = last, &d
			return nil
		}
		r.open = &span{partition: p, first: d.Seq, opened: time.Now()}
	}
	sp := r.open
	sp.last, sp.events, sp.bytes = d.Seq, sp.events+1, sp.bytes+int64(len(e.Data))+1
	r.last = &d
	r.s.st.gathering(sp)
	if sp.bytes >= r.s.cfg.MaxBytes || sp.last-sp.first+1 >= uint64(r.s.cfg.MaxEvents) {
		return r.commit(ctx)
	}
	return nil
}

// commit writes the open object, then acknowledges every delivery handled.
func (r *roller) commit(ctx context.Context) error {
	sp := r.open
	if err := r.s.write(ctx, sp); err != nil {
		return err
	}
	r.open = nil
	return r.ack(ctx)
}

// ackIdle acknowledges what was handled while no object is open (events
// of others, objects skipped). Never the middle of an object committed
// before: a replay from there would not find the object (it is looked up
// by its first sequence) and would write its end again.
func (r *roller) ackIdle(ctx context.Context) error {
	if r.open != nil || r.last == nil || r.last.Seq <= r.acked || r.last.Seq < r.skipTo {
		return nil
	}
	return r.ack(ctx)
}

// ack acknowledges the last delivery handled and every earlier one. It
// goes through even when ctx ends (a shutdown just after a commit), so a
// clean stop leaves no object committed and unacknowledged.
func (r *roller) ack(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.last.Ack(ctx); err != nil {
		return fmt.Errorf("ack %s@%d: %w", r.s.opts.Stream, r.last.Seq, err)
	}
	r.acked = r.last.Seq
	r.s.st.set(func(st *Status) { st.Position = max(st.Position, r.acked) })
	return nil
}
