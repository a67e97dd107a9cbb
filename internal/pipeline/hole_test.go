package pipeline_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/stream"
)

// A stream output taking back deliveries finds outputs the stream does not
// hold though it holds later ones: a stream leader that died while a batch
// was on its way stored the batch's end and lost its start (the kill -9
// suite saw 10 such). It writes them now, after the later ones, and
// refuses (dead-letters) only those the stream refuses; a new run resumes
// after the newest position, not after the last one stored.
func TestOutputsLostBeforeLaterOnes(t *testing.T) {
	n := startInOut(t)
	ctx := context.Background()
	out := func(i, value int) pipeline.Out {
		return pipeline.Out{Data: fmt.Appendf(nil, `{"meta":{"id":"o%d","dt":"2026-12-03T10:00:%02dZ"},"n":%d}`, i, i, value),
			ID: fmt.Sprintf("p:e%d:0", i), Position: fmt.Sprintf("%020d:000000", i)}
	}
	// Stored before: 1-5 and 8-10, not 6 and 7.
	var raws [][]byte
	var ids, poss []string
	for _, i := range []int{1, 2, 3, 4, 5, 8, 9, 10} {
		o := out(i, i)
		raws, ids, poss = append(raws, o.Data), append(ids, o.ID), append(poss, o.Position)
	}
	if _, err := n.Streams.ProduceFrom(ctx, "out", stream.Origin{Name: "p", Positions: poss, IDs: ids}, raws); err != nil {
		t.Fatal(err)
	}

	o := pipeline.NewStreamOutput(n.Streams, "p", "out")
	if err := pipeline.LoadStreamOutput(ctx, o); err != nil {
		t.Fatal(err)
	}
	var outs []pipeline.Out
	for i := 1; i <= 10; i++ {
		outs = append(outs, out(i, 100+i)) // the function answers otherwise this time
	}
	outs[6] = out(7, 5000) // over the schema's maximum: refused now, so refused then
	invalid, err := o.Write(ctx, outs)
	if err != nil {
		t.Fatal(err)
	}
	if len(invalid) != 1 || invalid[6] == nil {
		t.Fatalf("refused %v, want only output 7 (index 6)", invalid)
	}
	for i, o := range outs {
		if stored := i != 5 && i != 6; o.Stored != stored {
			t.Errorf("output %d: Stored %v", i+1, o.Stored)
		}
		if i < 5 && string(o.Data) != string(out(i+1, i+1).Data) {
			t.Errorf("output %d carries %s, not the copy stored first", i+1, o.Data)
		}
	}

	got := map[string]int{}
	var order []string
	c, err := n.Streams.Open(ctx, "out", stream.Range{From: event.Position{Kind: event.Earliest}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		e, err := c.Next(ctx)
		if err != nil {
			break
		}
		got[e.Position]++
		order = append(order, e.Position[17:20])
	}
	c.Close()
	if len(got) != 9 || got[out(6, 0).Position] != 1 || got[out(7, 0).Position] != 0 {
		t.Fatalf("the stream holds %v", order)
	}
	for p, k := range got {
		if k != 1 {
			t.Fatalf("%s stored %d times: %v", p, k, order)
		}
	}

	// A new run: the newest position is 10's, though 6 was stored last.
	o2 := pipeline.NewStreamOutput(n.Streams, "p", "out")
	if err := pipeline.LoadStreamOutput(ctx, o2); err != nil {
		t.Fatal(err)
	}
	if w := pipeline.WrittenOf(o2); w != out(10, 0).Position {
		t.Fatalf("resumes after %s, want %s (stored: %v)", w, out(10, 0).Position, order)
	}
}
