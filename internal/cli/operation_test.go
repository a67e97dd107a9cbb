package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/pipeline"
)

// `sluice table rebuild` follows the operation to its end and says what it
// wrote; with --no-wait it says where to follow it and returns.
func TestRebuildFollowsTheOperation(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "out.json"), []byte(`{"type":"object","required":["title"]}`), 0o644)
	cfg, err := config.Parse(fmt.Appendf(nil, `
streams:
  wikimedia.recentchange:
    schema: %s
  titles:
    schema: %s
pipelines:
  titles:
    from: wikimedia.recentchange
    start: earliest
    function: {name: jq, config: {program: '{title, meta}'}}
    to: [{stream: titles}, {table: titles}]
tables:
  titles:
    key: event.title
    time: /meta/dt
`, mustAbs(t, schemaFile), filepath.Join(dir, "out.json")))
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
	mustRun(t, server, "produce", rc, eventsFile)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if s, _ := n.Pipelines.Get("titles"); s.Position == 100 && s.LagEvents == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pipeline did not catch up")
		}
	}
	code, out, errOut := run(t, server, "table", "rebuild", "titles")
	if code != 0 || out != "rebuilt titles from 100 output(s)\n" || !strings.Contains(errOut, "rebuild of table titles started: operation ") {
		t.Fatalf("rebuild: %d\n%s\n%s", code, out, errOut)
	}
	if out := mustRun(t, server, "table", "rebuild", "titles", "--no-wait"); !strings.Contains(out, "rebuild of table titles started: operation ") ||
		!strings.Contains(out, "GET /v1/operations/") {
		t.Fatalf("rebuild --no-wait:\n%s", out)
	}
}

func TestProgressText(t *testing.T) {
	total := uint64(1000)
	for _, c := range []struct {
		op   pipeline.Operation
		want string
	}{
		{pipeline.Operation{Kind: "redrive", Pipeline: "wiki", Progress: pipeline.Progress{Done: 120, Total: &total, Succeeded: 100, Failed: 20}},
			"redrive of pipeline wiki: 120 of 1,000 dead letters read: 100 through, 20 failed again"},
		{pipeline.Operation{Kind: "rebuild", Pipeline: "wiki", Table: "t", Progress: pipeline.Progress{Done: 5000, Succeeded: 4000}},
			"rebuild of table t: 5,000 output messages read: 4,000 written, 0 refused"},
	} {
		if got := progressText(c.op); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}
