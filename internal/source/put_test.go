package source_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/source"
	"github.com/sluice-dev/sluice/internal/source/eventsource"
	"github.com/sluice-dev/sluice/internal/source/file"
	"github.com/sluice-dev/sluice/internal/wikisim/eventstreams"
)

// rcSpec builds the source "rc" of a project as the node does, afresh.
func rcSpec(t *testing.T, cfg *config.Config) source.Spec {
	t.Helper()
	reg := source.NewRegistry(eventsource.Kind, file.Kind)
	spec, err := reg.Spec("rc", cfg.Sources["rc"], source.Env{Dir: cfg.Dir()})
	if err != nil {
		t.Fatalf("spec: %v", err)
	}
	return spec
}

// TestPutAndRemoveWhileRunning: a source put in place of the running one
// (twice, while the feed is cut inside milliseconds) resumes after what the
// old one stored, as after a restart: with a duplicate window too short to
// hide anything, the stream holds every event once, in feed order. Removed,
// it stops and its pause state goes; put again, it resumes.
func TestPutAndRemoveWhileRunning(t *testing.T) {
	events := recorded(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	clock := func(n int64) time.Time { return base.Add(time.Duration(n/9) * time.Millisecond) }
	_, url := feed(t, events, eventstreams.Options{TimestampIDs: true, Clock: clock, DropEvery: 13})
	cfg, err := config.Parse(fmt.Appendf(nil, `
streams:
  wikimedia.recentchange:
    schema: ../../testdata/schemas/mediawiki/recentchange/1.0.0.yaml
    duplicate_window: 100ms
sources:
  rc:
    sse:
      url: %s
      user_agent: "sluice-test/0 (tests; ops@example.org)"
      idle_timeout: 300ms
      max_backoff: 300ms
    to: wikimedia.recentchange
`, url))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, n)
	ctx := context.Background()

	// Readers race the changes, as the HTTP API and the metrics do.
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-done:
				return
			default:
				_ = n.Sources.List()
				_, _ = n.Sources.Get("rc")
			}
		}
	}()
	defer func() { close(done); readers.Wait() }()

	for _, at := range []uint64{40, 80} {
		waitFor(t, n, at)
		time.Sleep(150 * time.Millisecond) // past the duplicate window
		if err := n.Sources.Put(ctx, rcSpec(t, cfg)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.Sources.SetPaused(ctx, "rc", true); err != nil {
		t.Fatal(err)
	}
	if err := n.Sources.Remove(ctx, "rc"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Sources.Get("rc"); !errors.Is(err, source.ErrNotFound) {
		t.Fatalf("Get after Remove: %v", err)
	}
	if err := n.Sources.Remove(ctx, "rc"); !errors.Is(err, source.ErrNotFound) {
		t.Fatalf("Remove again: %v", err)
	}
	kv, err := n.Streams.Engine().KV(ctx, "sources")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := kv.Get(ctx, "rc"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("pause state after Remove: %v", err)
	}
	time.Sleep(150 * time.Millisecond)
	if err := n.Sources.Put(ctx, rcSpec(t, cfg)); err != nil { // not paused: its pause state went with it
		t.Fatal(err)
	}
	waitStored(t, n, len(events))
	sameOrder(t, storedIDs(t, n, rc), ids(t, events))
}
