package source_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/wikisim/eventstreams"
)

// startShortWindow is startNode with a stream that remembers ids for only
// 100 ms, so that an event stored twice is not hidden by the stream's
// de-duplication: the source itself must not read anything twice.
func startShortWindow(t *testing.T, dir, url string) *node.Node {
	t.Helper()
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
	cfg.Data, cfg.Addr = dir, "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// EventStreams ids are mostly the event's time + 1 ms, shared by the
// events of one millisecond; resuming with one as given skips the rest of
// its millisecond. Here nine events share each millisecond, every
// connection is cut after 13 events (so mostly inside a millisecond; a
// connection sends again up to 8 events it had, so 13 still moves on), and
// the node restarts once after a pause longer than the stream's duplicate
// window: the stream still holds every event once, in feed order.
func TestResumesExactlyInsideAMillisecond(t *testing.T) {
	events := recorded(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	clock := func(n int64) time.Time { return base.Add(time.Duration(n/9) * time.Millisecond) }
	es, url := feed(t, events, eventstreams.Options{TimestampIDs: true, Clock: clock, DropEvery: 13})
	dir := t.TempDir()
	n := startShortWindow(t, dir, url)
	waitFor(t, n, 60)
	stop(t, n)
	time.Sleep(300 * time.Millisecond) // past the duplicate window: only the source can keep a copy out
	n = startShortWindow(t, dir, url)
	defer stop(t, n)
	waitStored(t, n, len(events))
	sameOrder(t, storedIDs(t, n, rc), ids(t, events))
	if es.Connections() < int64(len(events)/13) {
		t.Fatalf("only %d connections for %d events cut every 13", es.Connections(), len(events))
	}
	v, _ := n.Sources.Get("rc")
	t.Logf("%d events over %d connections; after the restart: %+v", len(events), es.Connections(), v)
}
