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

func TestTableLookup(t *testing.T) {
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
		{Key: "a \"quoted\"\tkey", ValidFrom: t0, Value: json.RawMessage(`null`), Stream: "wiki.page_images", Seq: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(body string) (int, []byte) {
		t.Helper()
		status, _, got := c.call("POST", "/v1/tables/page_images/lookup", "application/json", []byte(body))
		return status, got
	}
	status, body := lookup(`{"keys":["enwiki:1","enwiki:2","enwiki:9","enwiki:1","a \"quoted\"\tkey"],"at":"2026-11-27T10:30:00Z"}`)
	want := `{"results":[` +
		`{"key":"enwiki:1","value":{"image_list":["File:A.jpg"]},"valid_from":"2026-11-27T10:00:00Z","valid_to":"2026-11-27T11:00:00Z"},` +
		`{"key":"enwiki:2","value":{"image_list":[]},"valid_from":"2026-11-27T10:00:00Z","valid_to":"2026-11-27T12:00:00Z"},` +
		`{"key":"enwiki:9","missing":true},` +
		`{"key":"enwiki:1","value":{"image_list":["File:A.jpg"]},"valid_from":"2026-11-27T10:00:00Z","valid_to":"2026-11-27T11:00:00Z"},` +
		`{"key":"a \"quoted\"\tkey","value":null,"valid_from":"2026-11-27T10:00:00Z","valid_to":null}]}`
	if status != 200 || strings.TrimSpace(string(body)) != want {
		t.Fatalf("lookup at 10:30: %d\n%s\nwant\n%s", status, body, want)
	}
	// Unix milliseconds, as a number or a string; a deleted key is missing.
	for _, at := range []string{itoa(t0.Add(3 * time.Hour).UnixMilli()), `"` + itoa(t0.Add(3*time.Hour).UnixMilli()) + `"`} {
		status, body = lookup(`{"keys":["enwiki:2","enwiki:1"],"at":` + at + `}`)
		if status != 200 || !strings.Contains(string(body), `{"key":"enwiki:2","missing":true},{"key":"enwiki:1","value":{"image_list":["File:A.jpg","File:B.jpg"]}`) {
			t.Fatalf("lookup at %s: %d %s", at, status, body)
		}
	}
	if status, body = lookup(`{"keys":["enwiki:1"]}`); status != 200 || !strings.Contains(string(body), `"valid_to":null`) { // now
		t.Fatalf("lookup now: %d %s", status, body)
	}
	many := make([]string, 1000)
	for i := range many {
		many[i] = "enwiki:" + itoa(int64(i))
	}
	manyJSON, _ := json.Marshal(many)
	if status, body = lookup(`{"keys":` + string(manyJSON) + `}`); status != 200 || len(decode[struct{ Results []any }](t, body).Results) != 1000 {
		t.Fatalf("1000 keys: %d", status)
	}
	manyJSON, _ = json.Marshal(append(many, "one more"))
	if status, body = lookup(`{"keys":` + string(manyJSON) + `}`); status != 413 || !strings.Contains(string(body), `"limit":1000`) {
		t.Fatalf("1001 keys: %d %s", status, body)
	}
	if status, body = lookup(`{"keys":["` + strings.Repeat("x", 1<<20) + `"]}`); status != 413 {
		t.Fatalf("a body over 1 MiB: %d %s", status, body)
	}
	for _, tc := range []struct{ body, says string }{
		{`{"keys":[]}`, "want 1 to 1000 keys"},
		{`{}`, "want 1 to 1000 keys"},
		{`{"keys":["enwiki:1",""]}`, "keys[1]: "},
		{`{"keys":["enwiki:1","enwiki:2","a\u0000"]}`, "keys[2]: "},
		{`{"keys":["enwiki:1"],"at":"yesterday"}`, `at \"yesterday\": want an RFC 3339`},
		{`{"keys":["enwiki:1"],"at":true}`, `at \"true\"`},
		{`{"keys":["enwiki:1"],"when":1}`, "unknown field"},
		{`{"keys":"enwiki:1"}`, "request body"},
	} {
		if status, body = lookup(tc.body); status != 400 || !strings.Contains(string(body), tc.says) {
			t.Errorf("%s: %d %s; want 400 saying %s", tc.body, status, body, tc.says)
		}
	}
	if status, _, _ = c.call("POST", "/v1/tables/page_images/lookup", "text/plain", []byte(`{"keys":["a"]}`)); status != 415 {
		t.Errorf("text/plain: %d", status)
	}
	if status, _, _ = c.call("POST", "/v1/tables/nope/lookup", "application/json", []byte(`{"keys":["a"]}`)); status != 404 {
		t.Errorf("unknown table: %d", status)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
