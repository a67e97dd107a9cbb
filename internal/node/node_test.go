package node_test

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(tbChildEnv); mode != "" { // a child of BenchmarkTableLookup
		os.Exit(tbChild(mode))
	}
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// loadExample reads the README's first command's config, with its live
// feed replaced by a loopback address: tests send nothing outside.
func loadExample(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load("../../examples/wiki-images/sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := cfg.Sources["recentchange"]
	if src.Settings("sse")["url"] != "https://stream.wikimedia.org/v2/stream/recentchange" {
		t.Fatalf("the example reads %+v", src)
	}
	// nothing listens: the source backs off
	cfg.Sources["recentchange"] = src.With("sse", map[string]any{"url": "http://127.0.0.1:1/v2/stream/recentchange"})
	return cfg
}

// TestExampleProjectStarts runs the README's first command's config.
func TestExampleProjectStarts(t *testing.T) {
	cfg := loadExample(t)
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + n.Addr() + "/v1/streams/wikimedia.recentchange")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("declared stream: %d", resp.StatusCode)
	}
	if n.Engine.ClientURL() != "" {
		t.Fatal("the embedded NATS server listens on a port by default")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
}

// TestApplyIsIdempotent starts twice on the same data: nothing changes the second time.
func TestApplyIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	for i := range 2 {
		cfg := loadExample(t)
		cfg.Data, cfg.Addr = dir, "127.0.0.1:0"
		n, err := node.Start(context.Background(), cfg, nil)
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		versions, err := n.Streams.Versions(context.Background(), "wikimedia.recentchange")
		if err != nil || len(versions) != 1 {
			t.Fatalf("start %d: %d versions, %v", i, len(versions), err)
		}
		if err := n.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
