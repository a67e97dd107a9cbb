package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/table"
)

func TestTableQueries(t *testing.T) {
	cfg, err := config.Parse([]byte(`
tables:
  page_images:
    key: 'event.wiki + ":" + event.page_id'
    time: /event_time
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, n)
	c := newClient(t, n)
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	err = n.Tables.Put(context.Background(), "page_images", []table.Write{
		{Key: "enwiki:1", ValidFrom: t0, Value: json.RawMessage(`{"image_list":["File:A.jpg"]}`), Stream: "wiki.page_images", Seq: 1},
		{Key: "enwiki:1", ValidFrom: t0.Add(time.Hour), Value: json.RawMessage(`{"image_list":["File:A.jpg","File:B.jpg"]}`), Stream: "wiki.page_images", Seq: 5},
		{Key: "enwiki:2", ValidFrom: t0, Value: json.RawMessage(`{"image_list":[]}`), Stream: "wiki.page_images", Seq: 2},
		{Key: "enwiki:2", ValidFrom: t0.Add(2 * time.Hour), Deleted: true, Stream: "wiki.page_images", Seq: 9},
	})
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := c.call("GET", "/v1/tables", "", nil)
	if status != 200 || !strings.Contains(string(body), `"page_images"`) {
		t.Fatalf("list: %d %s", status, body)
	}
	status, _, body = c.call("GET", "/v1/tables/page_images/keys/enwiki:1?at=2026-11-27T10:30:00Z", "", nil)
	v := decode[map[string]any](t, body)
	if status != 200 || !strings.Contains(string(body), `"File:A.jpg"]`) || v["valid_to"] != "2026-11-27T11:00:00Z" || v["source"].(map[string]any)["seq"].(float64) != 1 {
		t.Fatalf("get at 10:30: %d %s", status, body)
	}
	status, _, body = c.call("GET", "/v1/tables/page_images/keys/enwiki:1", "", nil) // now
	if status != 200 || !strings.Contains(string(body), "File:B.jpg") || decode[map[string]any](t, body)["valid_to"] != nil {
		t.Fatalf("get now: %d %s", status, body)
	}
	ms := t0.Add(-time.Minute).UnixMilli()
	if status, _, body = c.call("GET", "/v1/tables/page_images/keys/enwiki:1?at="+itoa(ms), "", nil); status != 404 || !strings.Contains(string(body), "had no value") {
		t.Fatalf("before the first version: %d %s", status, body)
	}
	if status, _, _ = c.call("GET", "/v1/tables/page_images/keys/enwiki:2?at=2026-11-27T12:00:00Z", "", nil); status != 404 {
		t.Fatalf("deleted: %d", status)
	}
	status, _, body = c.call("GET", "/v1/tables/page_images/keys/enwiki:2/history", "", nil)
	h := decode[struct {
		Versions []map[string]any `json:"versions"`
	}](t, body)
	if status != 200 || len(h.Versions) != 2 || h.Versions[1]["deleted"] != true {
		t.Fatalf("history: %d %s", status, body)
	}
	status, _, body = c.call("GET", "/v1/tables/page_images?at=2026-11-27T10:30:00Z&limit=1", "", nil)
	page := decode[map[string]any](t, body)
	if status != 200 || len(page["versions"].([]any)) != 1 || page["next"] != "enwiki:1" {
		t.Fatalf("scan page 1: %d %s", status, body)
	}
	status, _, body = c.call("GET", "/v1/tables/page_images?at=2026-11-27T10:30:00Z&limit=1&cursor=enwiki:1", "", nil)
	if page = decode[map[string]any](t, body); status != 200 || len(page["versions"].([]any)) != 1 || page["next"] != "" {
		t.Fatalf("scan page 2: %d %s", status, body)
	}
	if status, _, _ = c.call("GET", "/v1/tables/page_images?at=yesterday", "", nil); status != 400 {
		t.Fatalf("bad time: %d", status)
	}
	if status, _, _ = c.call("GET", "/v1/tables/nope/keys/x", "", nil); status != 404 {
		t.Fatalf("unknown table: %d", status)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
