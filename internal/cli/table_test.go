package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/table"
)

func TestTableCommands(t *testing.T) {
	cfg, err := config.Parse([]byte("tables:\n  page_images:\n    key: 'event.wiki + \":\" + event.page_id'\n    time: /event_time\n"))
	if err != nil {
		t.Fatal(err)
	}
	n := startConfigured(t, cfg)
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	if err := n.Tables.Put(context.Background(), "page_images", []table.Write{
		{Key: "enwiki:1", ValidFrom: t0, Value: json.RawMessage(`{"images":1}`), Stream: "s", Seq: 1},
		{Key: "enwiki:1", ValidFrom: t0.Add(time.Hour), Value: json.RawMessage(`{"images":2}`), Stream: "s", Seq: 2},
		{Key: "enwiki:2", ValidFrom: t0, Value: json.RawMessage(`{"images":0}`), Stream: "s", Seq: 3},
	}); err != nil {
		t.Fatal(err)
	}
	server := "http://" + n.Addr()
	want(t, "get now", mustRun(t, server, "table", "get", "page_images", "enwiki:1"), "{\"images\":2}\n")
	want(t, "get at", mustRun(t, server, "table", "get", "page_images", "enwiki:1", "--at", "2026-11-27T10:30:00Z"), "{\"images\":1}\n")
	out := mustRun(t, server, "table", "get", "page_images", "enwiki:2", "enwiki:1", "enwiki:1", "--at", "2026-11-27T10:30:00Z")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[1], "enwiki:2") ||
		!strings.Contains(lines[2], `{"images":1}`) || !strings.Contains(lines[3], `{"images":1}`) {
		t.Fatalf("get of several keys:\n%s", out)
	}
	if out := mustRun(t, server, "table", "get", "page_images", "enwiki:1", "enwiki:2", "--json"); strings.Count(out, `"valid_from"`) != 2 || !strings.Contains(out, `"images": 2`) {
		t.Fatalf("get of several keys, JSON:\n%s", out)
	}
	if code, out, errOut := run(t, server, "table", "get", "page_images", "enwiki:1", "enwiki:9"); code != 1 || !strings.Contains(out, "(no value)") || !strings.Contains(errOut, "1 of 2 keys had no value") {
		t.Fatalf("get of several keys, one without a value: %d %s %s", code, out, errOut)
	}
	if out := mustRun(t, server, "table", "history", "page_images", "enwiki:1"); strings.Count(out, "enwiki:1") != 2 {
		t.Fatalf("history:\n%s", out)
	}
	if out := mustRun(t, server, "table", "ls", "page_images", "--at", "2026-11-27T10:30:00Z", "--json"); strings.Count(out, `"key"`) != 2 {
		t.Fatalf("ls:\n%s", out)
	}
	if code, _, errOut := run(t, server, "table", "rebuild", "page_images"); code != 1 || !strings.Contains(errOut, "no pipeline writes table") {
		t.Fatalf("rebuild without a pipeline: %d %s", code, errOut)
	}
	if code, _, errOut := run(t, server, "table", "get", "page_images", "enwiki:1", "--at", "2026-11-27T09:00:00Z"); code != 1 || !strings.Contains(errOut, "had no value") {
		t.Fatalf("before the first version: %d %s", code, errOut)
	}
}
