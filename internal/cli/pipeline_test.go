package cli

import (
	"context"
	"encoding/json"
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

func TestPipelineCommands(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "out.json"), []byte(`{"type":"object","required":["title"]}`), 0o644)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
streams:
  wikimedia.recentchange:
    schema: %s
  titles:
    schema: %s
pipelines:
  titles:
    from: wikimedia.recentchange
    start: earliest
    where: 'event.minor == false'
    function: {name: jq, config: {program: '{title, meta}'}}
    to: [{stream: titles}]
`, mustAbs(t, schemaFile), filepath.Join(dir, "out.json"))))
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
	var list []pipeline.Status
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		json.Unmarshal([]byte(mustRun(t, server, "pipeline", "ls", "--json")), &list)
		if len(list) == 1 && list[0].Position == 100 {
			break
		}
	}
	if len(list) != 1 || list[0].Processed+list[0].Filtered != 100 || list[0].Outputs != list[0].Processed {
		t.Fatalf("pipeline ls --json: %+v", list)
	}
	if out := mustRun(t, server, "pipeline", "ls"); !strings.Contains(out, "titles") || !strings.Contains(out, "jq") {
		t.Fatalf("pipeline ls:\n%s", out)
	}
	if out := mustRun(t, server, "pipeline", "status", "titles"); !strings.Contains(strings.Join(strings.Fields(out), " "), "position 100 lag 0 events") {
		t.Fatalf("status:\n%s", out)
	}
	if out := mustRun(t, server, "pipeline", "pause", "titles", "--json"); !strings.Contains(out, `"paused": true`) {
		t.Fatalf("pause:\n%s", out)
	}
	mustRun(t, server, "pipeline", "resume", "titles")
	if out := mustRun(t, server, "pipeline", "reset", "titles", "--to", "earliest", "--json"); !strings.Contains(out, `"name": "titles"`) {
		t.Fatalf("reset:\n%s", out)
	}
	if out := mustRun(t, server, "pipeline", "redrive", "titles"); !strings.Contains(out, "redrove 0 dead letter(s)") {
		t.Fatalf("redrive:\n%s", out)
	}
	var op pipeline.Operation
	if out := mustRun(t, server, "pipeline", "redrive", "titles", "--no-wait", "--json"); json.Unmarshal([]byte(out), &op) != nil || op.Kind != "redrive" || op.ID == "" {
		t.Fatalf("redrive --no-wait:\n%s", out)
	}
	var st pipeline.Status
	for deadline := time.Now().Add(20 * time.Second); st.Operation == nil || st.Operation.Running(); time.Sleep(20 * time.Millisecond) {
		json.Unmarshal([]byte(mustRun(t, server, "pipeline", "status", "titles", "--json")), &st)
		if time.Now().After(deadline) {
			t.Fatalf("the redrive does not end: %+v", st.Operation)
		}
	}
	if st.Operation.ID != op.ID || st.Operation.State != pipeline.OpSucceeded {
		t.Fatalf("status shows %+v", st.Operation)
	}
	if out := mustRun(t, server, "pipeline", "status", "titles"); !strings.Contains(out, op.ID+" succeeded") {
		t.Fatalf("status:\n%s", out)
	}
	if code, _, errOut := run(t, server, "pipeline", "cancel", "titles"); code != 1 || !strings.Contains(errOut, "runs no operation") {
		t.Fatalf("cancel with none running: %d %s", code, errOut)
	}
	lines := recorded(t)
	file := filepath.Join(t.TempDir(), "in.ndjson")
	os.WriteFile(file, []byte(lines[0]+"\n"), 0o644)
	if out := mustRun(t, server, "invoke", "--pipeline", "titles", file); !strings.Contains(out, `"title":"EFL Championship"`) {
		t.Fatalf("invoke --pipeline:\n%s", out)
	}
	if code, _, errOut := run(t, server, "pipeline", "status", "nope"); code != 1 || !strings.Contains(errOut, "Not found") {
		t.Fatalf("unknown pipeline: %d %s", code, errOut)
	}
}
