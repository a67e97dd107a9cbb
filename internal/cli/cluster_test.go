package cli

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
)

func TestClusterStatus(t *testing.T) {
	events, _ := filepath.Abs(eventsFile)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
node: alpha
streams:
  wikimedia.recentchange:
    schema: %s
sources:
  import:
    file: {paths: [%s]}
    to: wikimedia.recentchange
`, mustAbs(t, schemaFile), events)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		http.DefaultClient.CloseIdleConnections()
	}()
	server := "http://" + n.Addr()
	var out string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if out = mustRun(t, server, "cluster", "status"); strings.Contains(out, "sources: import") {
			break
		}
	}
	if !strings.HasPrefix(out, "NODE") || !strings.Contains(out, "alpha (this)") || !strings.Contains(out, n.Addr()) ||
		!strings.Contains(out, "sources: import") || !strings.Contains(out, "sqlite") {
		t.Fatalf("cluster status:\n%s", out)
	}
	if js := mustRun(t, server, "cluster", "status", "--json"); !strings.Contains(js, `"name": "alpha"`) {
		t.Fatalf("cluster status --json:\n%s", js)
	}
	// The claim is in the cluster's view a moment before the source
	// leaves standby on its node.
	var ls string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ls = mustRun(t, server, "source", "ls"); strings.Contains(ls, "alpha") {
			break
		}
	}
	if !strings.Contains(ls, "alpha") {
		t.Fatalf("source ls names no node:\n%s", ls)
	}
}
