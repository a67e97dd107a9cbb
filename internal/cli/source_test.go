package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/source"
)

func TestSourceCommands(t *testing.T) {
	events, _ := filepath.Abs(eventsFile)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
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
	var list []source.StatusView
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := json.Unmarshal([]byte(mustRun(t, server, "source", "ls", "--json")), &list); err != nil {
			t.Fatal(err)
		}
		if len(list) == 1 && list[0].State == source.Finished {
			break
		}
	}
	if len(list) != 1 || list[0].Name != "import" || list[0].Kind != "file" || list[0].Stored != 100 {
		t.Fatalf("source ls --json: %+v", list)
	}
	table := mustRun(t, server, "source", "ls")
	if !strings.HasPrefix(table, "NAME") || !strings.Contains(table, "import") || !strings.Contains(table, "finished") {
		t.Fatalf("source ls:\n%s", table)
	}
	status := mustRun(t, server, "source", "status", "import")
	if !strings.Contains(status, "stored           100") || !strings.Contains(status, "position         0:99") {
		t.Fatalf("source status:\n%s", status)
	}
	if out := mustRun(t, server, "source", "pause", "import", "--json"); !strings.Contains(out, `"paused": true`) {
		t.Fatalf("pause:\n%s", out)
	}
	if out := mustRun(t, server, "source", "resume", "import", "--json"); !strings.Contains(out, `"paused": false`) {
		t.Fatalf("resume:\n%s", out)
	}
	code, _, errOut := run(t, server, "source", "status", "nope")
	if code != 1 || !strings.Contains(errOut, "Not found (404)") {
		t.Fatalf("unknown source: %d %q", code, errOut)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
