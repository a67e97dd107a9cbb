package httpapi_test

import (
	"strings"
	"testing"
)

// GET /v1/streams/{name} answers the preview a stream sets, or the one
// chosen from its schema; PUT changes it without a schema version.
func TestStreamPreview(t *testing.T) {
	n := start(t, t.TempDir())
	defer stop(t, n)
	c := newClient(t, n)
	type info struct {
		Preview        []string `json:"preview"`
		PreviewDefault bool     `json:"preview_default"`
		Version        int      `json:"version"`
	}
	get := func(name string) info {
		t.Helper()
		status, _, body := c.call("GET", "/v1/streams/"+name, "", nil)
		if status != 200 {
			t.Fatalf("GET %s: %d %s", name, status, body)
		}
		return decode[info](t, body)
	}
	if got := get(rcStream); strings.Join(got.Preview, " ") != "/title /wiki /user /type" || !got.PreviewDefault {
		t.Fatalf("recentchange: %+v, want the default /title /wiki /user /type", got)
	}

	orders := `"schema":{"type":"object","required":["id","qty"],"properties":{"id":{"type":"string"},"qty":{"type":"integer"},"sku":{"type":"string"}}},"id":"/id","time":"/at"`
	if status, _, body := c.call("POST", "/v1/streams", "application/json", []byte(`{"name":"orders",`+orders+`,"preview":["/sku"]}`)); status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	if got := get("orders"); strings.Join(got.Preview, " ") != "/sku" || got.PreviewDefault {
		t.Fatalf("orders: %+v, want the preview set", got)
	}
	if status, _, body := c.call("PUT", "/v1/streams/orders", "application/json", []byte(`{`+orders+`,"preview":["/sku","qty"]}`)); status != 422 || !strings.Contains(string(body), `"path":"preview[1]"`) {
		t.Fatalf("a bad preview: %d %s", status, body)
	}
	status, _, body := c.call("PUT", "/v1/streams/orders", "application/json", []byte(`{`+orders+`}`))
	if status != 200 || !strings.Contains(string(body), `"changed":true`) {
		t.Fatalf("unset the preview: %d %s", status, body)
	}
	if got := get("orders"); strings.Join(got.Preview, " ") != "/qty /sku" || !got.PreviewDefault || got.Version != 1 {
		t.Fatalf("orders without preview: %+v, want the default /qty /sku at schema v1", got)
	}
}
