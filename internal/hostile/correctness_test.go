package hostile

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	sevent "github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/stream"
	"github.com/sluice-dev/sluice/internal/wikisim/eventstreams"
)

// The "Correctness found on the way" items of issue #12.

// A feed whose ids are timestamps shared by the events of a millisecond,
// cut inside milliseconds, and a pause over the API longer than the
// stream's duplicate window: the stream holds every event once, in order.
func TestResumeInsideAMillisecondLosesNothing(t *testing.T) {
	events, err := eventstreams.Load("../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	es := eventstreams.New(events, eventstreams.Options{TimestampIDs: true, DropEvery: 11,
		Clock: func(n int64) time.Time { return base.Add(time.Duration(n/7) * time.Millisecond) }})
	hs := httptest.NewServer(es)
	t.Cleanup(func() { es.Close(); hs.Close() })
	schema, err := filepath.Abs("../../testdata/schemas/mediawiki/recentchange/1.0.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := startConfig(t, t.TempDir(), fmt.Sprintf(`
streams:
  rc:
    schema: %s
    duplicate_window: 100ms
sources:
  feed:
    sse: {url: %q, user_agent: "sluice-hostile/0 (tests; ops@example.org)", idle_timeout: 300ms, max_backoff: 200ms}
    to: rc
`, schema, hs.URL+"/v2/stream/recentchange"))
	waitUntil(t, 30*time.Second, "30 events stored", func() bool { return n.count(t, "rc") >= 30 })
	if a := do(t, "POST", n.URL+"/v1/sources/feed/pause", ""); a.Status != http.StatusOK {
		t.Fatalf("pause: %d %s", a.Status, a.Body)
	}
	time.Sleep(300 * time.Millisecond) // longer than the duplicate window
	if a := do(t, "POST", n.URL+"/v1/sources/feed/resume", ""); a.Status != http.StatusOK {
		t.Fatalf("resume: %d %s", a.Status, a.Body)
	}
	waitUntil(t, 30*time.Second, "every event stored", func() bool { return n.count(t, "rc") >= uint64(len(events)) })
	c, err := n.Streams.Open(context.Background(), "rc", stream.Range{From: sevent.Position{Kind: sevent.Earliest}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range events {
		e, err := c.Next(context.Background())
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		var want struct {
			Meta struct{ ID string } `json:"meta"`
		}
		_ = json.Unmarshal(events[i], &want)
		if e.ID != want.Meta.ID {
			t.Fatalf("event %d is %s, want %s: lost or doubled", i, e.ID, want.Meta.ID)
		}
	}
	if got := n.count(t, "rc"); got != uint64(len(events)) {
		t.Fatalf("stored %d events, want %d", got, len(events))
	}
}

// A schema evolved over the API, then the node started again with the
// file it was declared in: it starts, and keeps the evolved schema.
func TestConfigBehindTheCatalog(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.json"), []byte(eventSchema), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, []byte("streams:\n  s:\n    schema: s.json\n    id: /id\n    time: /dt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := func() (*node.Node, error) {
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Data, cfg.Addr = filepath.Join(dir, "data"), "127.0.0.1:0"
		return node.Start(context.Background(), cfg, nil)
	}
	n, err := start()
	if err != nil {
		t.Fatal(err)
	}
	evolved := strings.Replace(eventSchema, `"text":{"type":"string"}`, `"text":{"type":"string"},"extra":{"type":"string"}`, 1)
	a := do(t, "PUT", "http://"+n.Addr()+"/v1/streams/s/schema", `{"schema":`+evolved+`}`)
	_ = n.Shutdown(context.Background())
	http.DefaultClient.CloseIdleConnections()
	if a.Status != http.StatusOK {
		t.Fatalf("evolve: %d %s", a.Status, a.Body)
	}
	n, err = start()
	if err != nil {
		t.Fatalf("the node does not start with its own config file: %v", err)
	}
	defer func() { _ = n.Shutdown(context.Background()); http.DefaultClient.CloseIdleConnections() }()
	if info, err := n.Streams.Info(context.Background(), "s"); err != nil || info.Version != 2 {
		t.Fatalf("after the restart: version %d, %v", info.Version, err)
	}
}
