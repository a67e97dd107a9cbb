package node_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
)

// syncBuffer is a log sink safe for the node's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// A schema evolved over the API, then the node started again with the
// config file it was first declared in: the file's schema is an earlier
// version of the stream's, which is not a change (before, the start was
// refused with "property removed"). The node starts, keeps the current
// schema and says the config is behind.
func TestConfigBehindTheCatalogStarts(t *testing.T) {
	dir := t.TempDir()
	v1 := `{"type":"object","required":["id","dt"],"properties":{"id":{"type":"string"},"dt":{"type":"string"}}}`
	if err := os.WriteFile(filepath.Join(dir, "s.json"), []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, []byte("streams:\n  s:\n    schema: s.json\n    id: /id\n    time: /dt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := func(log *slog.Logger) *node.Node {
		t.Helper()
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Data, cfg.Addr = filepath.Join(dir, "data"), "127.0.0.1:0"
		n, err := node.Start(context.Background(), cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	stop := func(n *node.Node) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		http.DefaultClient.CloseIdleConnections()
	}
	n := start(nil)
	v2 := `{"schema":{"type":"object","required":["id","dt"],"properties":{"id":{"type":"string"},"dt":{"type":"string"},"n":{"type":"integer"}}}}`
	req, _ := http.NewRequest("PUT", "http://"+n.Addr()+"/v1/streams/s/schema", strings.NewReader(v2))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("evolve: %d", resp.StatusCode)
	}
	stop(n)

	var logs syncBuffer
	n = start(slog.New(slog.NewTextHandler(&logs, nil)))
	defer stop(n)
	info, err := n.Streams.Info(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != 2 || len(info.Versions) != 2 || !strings.Contains(string(info.Schema), `"n"`) {
		t.Fatalf("after the restart: version %d of %d, schema %s", info.Version, len(info.Versions), info.Schema)
	}
	if !strings.Contains(logs.String(), "config_version=1 current_version=2") {
		t.Fatalf("no word that the config is behind:\n%s", logs.String())
	}
}
