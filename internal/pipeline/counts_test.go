package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/lease"
	"github.com/sluice-dev/sluice/internal/pipeline"
)

func countedSpec(e *opsEnv) pipeline.Spec {
	return pipeline.Spec{Name: "counted", From: "in", Start: event.Position{Kind: event.Earliest}, FunctionName: "ops", Function: e.fn,
		To: []pipeline.Output{pipeline.NewStreamOutput(e.n.Streams, "counted", "out")}}
}

// TestCountsSurviveARestart: a pipeline's totals are kept in the engine,
// beside its position: a manager started again (a node restart) reports
// them from the start, with the same counted_since, and counts on.
func TestCountsSurviveARestart(t *testing.T) {
	e := newOpsEnv(t)
	m1 := emptyManager(t, e, nil)
	if err := m1.Put(context.Background(), countedSpec(e), pipeline.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	e.produce(t, 0, 30, false)
	until(t, "30 inputs done", pipelineAt(m1, "counted", 30))
	s1, _ := m1.Get("counted")
	if s1.Processed != 30 || s1.Outputs != 30 || s1.CountedSince == nil {
		t.Fatalf("before the restart: %+v", s1)
	}
	m1.Stop() // stores what it counted since its last store

	m2 := emptyManager(t, e, nil)
	if err := m2.Put(context.Background(), countedSpec(e), pipeline.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	until(t, "totals read back", func() bool { s, _ := m2.Get("counted"); return s.CountedSince != nil })
	s2, _ := m2.Get("counted")
	if s2.Processed != 30 || s2.Outputs != 30 || !s2.CountedSince.Equal(*s1.CountedSince) {
		t.Fatalf("after the restart: processed %d, outputs %d, since %v; want 30, 30, %v", s2.Processed, s2.Outputs, s2.CountedSince, s1.CountedSince)
	}
	e.produce(t, 30, 40, false)
	until(t, "40 inputs done", pipelineAt(m2, "counted", 40))
	if s, _ := m2.Get("counted"); s.Processed != 40 || s.Outputs != 40 {
		t.Fatalf("counting on: %+v", s)
	}
	// Removed, its totals go too: put again, it counts from 0.
	if err := m2.Remove(context.Background(), "counted"); err != nil {
		t.Fatal(err)
	}
	m3 := emptyManager(t, e, nil)
	spec := countedSpec(e)
	spec.Start = event.Position{Kind: event.Latest}
	if err := m3.Put(context.Background(), spec, pipeline.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	until(t, "totals read", func() bool { s, _ := m3.Get("counted"); return s.CountedSince != nil })
	if s, _ := m3.Get("counted"); s.Processed != 0 || !s.CountedSince.After(*s1.CountedSince) {
		t.Fatalf("put again after its removal: %+v", s)
	}
}

// sharedManager starts a manager that runs its pipelines only where the
// node's lease on them is (package lease), stopped when the test ends.
func sharedManager(t *testing.T, e *opsEnv, node string) (*pipeline.Manager, *lease.Cluster) {
	t.Helper()
	c, err := lease.Open(context.Background(), e.n.Engine, lease.Options{Node: node, TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m, err := pipeline.NewManager(context.Background(), e.n.Streams, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Share(c)
	m.Start(context.Background())
	t.Cleanup(func() { m.Stop(); c.Close() })
	if err := m.Put(context.Background(), countedSpec(e), pipeline.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return m, c
}

// TestCountsGoOnAfterATakeover: when the pipeline moves to another node
// (its node stopped), that node reports the totals of the first and adds
// its own, none counted twice.
func TestCountsGoOnAfterATakeover(t *testing.T) {
	e := newOpsEnv(t)
	ma, ca := sharedManager(t, e, "a")
	until(t, "a runs it", func() bool { s, _ := ma.Get("counted"); return s.State == pipeline.Running && s.Node == "a" })
	mb, _ := sharedManager(t, e, "b")
	e.produce(t, 0, 30, false)
	until(t, "30 inputs done on a", pipelineAt(ma, "counted", 30))
	if s, _ := mb.Get("counted"); s.State != pipeline.Standby || s.Node != "a" {
		t.Fatalf("b: %+v, want standby, run by a", s)
	}
	ma.Stop()
	ca.Close()
	until(t, "b runs it with the totals", func() bool {
		s, _ := mb.Get("counted")
		return s.State == pipeline.Running && s.Node == "b" && s.CountedSince != nil
	})
	if s, _ := mb.Get("counted"); s.Processed != 30 || s.Outputs != 30 {
		t.Fatalf("after the takeover: %+v, want 30 processed", s)
	}
	e.produce(t, 30, 45, false)
	until(t, "45 inputs done on b", pipelineAt(mb, "counted", 45))
	if s, _ := mb.Get("counted"); s.Processed != 45 || s.Outputs != 45 {
		t.Fatalf("counting on b: %+v, want 45", s)
	}
}
