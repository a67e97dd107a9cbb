package config_test

import (
	"reflect"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
)

func TestFunctionsDecode(t *testing.T) {
	c, err := config.Parse([]byte(`
functions:
  wiki:
    process:
      command: [python3, functions/f.py]
      env: {LOG_LEVEL: info}
      instances: 2
      timeout: 30s
    config: {user_agent: "ua", allowed_hosts: [a.org]}
    max_batch: 50
  enrich:
    http: {url: "http://127.0.0.1:9000/enrich", headers: {Authorization: "Bearer ${ENRICH_TOKEN}"}}
    payload: firehose
  titles:
    kind: jq
    config: {program: '{title}'}
    doc: the titles
`))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Functions["wiki"]
	p, ok := w.Kinds["process"].(map[string]any)
	if !ok || !reflect.DeepEqual(p["command"], []any{"python3", "functions/f.py"}) || p["instances"] != 2 || p["timeout"] != "30s" ||
		w.MaxBatch != 50 || w.Config["user_agent"] != "ua" || len(w.Kinds) != 1 {
		t.Fatalf("process: %#v", w)
	}
	if e := c.Functions["enrich"]; e.Payload != "firehose" || e.Kinds["http"].(map[string]any)["url"] != "http://127.0.0.1:9000/enrich" {
		t.Fatalf("http: %#v", e)
	}
	if tt := c.Functions["titles"]; tt.Kind != "jq" || tt.Doc != "the titles" || len(tt.Kinds) != 0 {
		t.Fatalf("kind: %#v", tt)
	}
}
