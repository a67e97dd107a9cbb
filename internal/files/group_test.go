package files

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/engine/jetstream"
	"github.com/sluice-dev/sluice/internal/stream"
)

func consumers(t testing.TB, svc *stream.Service) int {
	t.Helper()
	n, err := svc.Engine().(*jetstream.Engine).ConsumerCount(context.Background(), "out")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGroupChangesWhileRunning: a sink put in place of a running one of the
// same name goes on from its consumer (every event in exactly one object);
// a sink removed gives up its consumer and leaves its objects.
func TestGroupChangesWhileRunning(t *testing.T) {
	svc := newService(t)
	dir := t.TempDir()
	cfg := Config{URL: "file://" + dir, MaxEvents: 10, MaxAge: 100 * time.Millisecond}
	newSink := func(pipeline string, c Config) *Sink {
		s, err := New(context.Background(), svc, c, Options{Pipeline: pipeline, Stream: "out"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	g := NewGroup(nil)
	defer g.Stop()
	first := newSink("p", cfg)
	g.Add(first)
	g.Start(context.Background())
	for i := range 30 {
		produce(t, svc, "p", ev(i, t0))
	}
	waitFor(t, "the first sink", func() bool { return first.Status().Position >= 20 })

	// The same output again (e.g. its format's settings changed): same name.
	cfg.MaxEvents = 7
	second := newSink("p", cfg)
	if second.Name() != first.Name() || second.Pipeline() != "p" {
		t.Fatalf("names %q %q", first.Name(), second.Name())
	}
	if err := g.Put(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	for i := 30; i < 60; i++ {
		produce(t, svc, "p", ev(i, t0))
	}
	waitFor(t, "the second sink", func() bool { return second.Status().Position == 60 })
	union(t, dir, stored(t, svc))

	// Another pipeline's sink beside it; listing and removing by pipeline.
	other := newSink("q", Config{URL: "file://" + t.TempDir()})
	if err := g.Put(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if names := g.Names("p"); !slices.Equal(names, []string{first.Name()}) {
		t.Fatalf("Names(p): %v", names)
	}
	waitFor(t, "two consumers", func() bool { return consumers(t, svc) == 2 })
	before := objects(t, dir)
	if err := g.RemovePipeline(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	if n := consumers(t, svc); n != 1 {
		t.Fatalf("consumers after removing p's sink: %d", n)
	}
	if after := objects(t, dir); !slices.Equal(before, after) {
		t.Fatalf("objects changed: %v -> %v", before, after)
	}
	if err := g.Remove(context.Background(), first.Name()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Remove again: %v", err)
	}
	if l := g.List(); len(l) != 1 || l[0].Pipeline != "q" {
		t.Fatalf("List: %+v", l)
	}
	if err := g.Remove(context.Background(), other.Name()); err != nil {
		t.Fatal(err)
	}
	if n := consumers(t, svc); n != 0 {
		t.Fatalf("consumers left: %d", n)
	}
}

// TestGroupRaces puts and removes sinks while the status is read, as the
// HTTP API and the metrics do.
func TestGroupRaces(t *testing.T) {
	svc := newService(t)
	g := NewGroup(nil)
	g.Start(context.Background())
	defer g.Stop()
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
				_ = g.List()
				_ = g.Names("p")
			}
		}
	}()
	for i := range 5 {
		s, err := New(context.Background(), svc, Config{URL: "file://" + t.TempDir()}, Options{Pipeline: "p", Stream: "out"})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Put(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			if err := g.Remove(context.Background(), s.Name()); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
	if n := len(g.Names("p")); n != 3 {
		t.Fatalf("sinks: %d", n)
	}
}
