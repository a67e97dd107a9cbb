package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefinitionsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.json"), []byte(`{"type":"object","required":["id"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := `
streams:
  s: {schema: s.json, id: /id, time: /time, retention: {max_age: 24h, max_bytes: 1GiB}}
  inline: {schema: {type: object}}
tables:
  t: {key: event.k, time: /time}
functions:
  f: {process: {command: [./fn.py], instances: 2}, max_batch: 10}
sources:
  feed: {file: {paths: [in.ndjson]}, to: s}
  sse: {sse: {url: "http://127.0.0.1:1/x", user_agent: "me", idle_timeout: 30s}, to: s}
pipelines:
  p:
    from: s
    where: event.id != ""
    function: {name: jq, config: {expr: "."}}
    to: [{stream: o}, {table: t}, {files: {url: "file:///tmp/x", roll: {max_age: 1m}}}]
`
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := c.Definitions()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range defs {
		got[string(d.Kind)+"."+d.Name] = string(d.Spec)
		v, err := Decode(d.Kind, d.Spec)
		if err != nil {
			t.Fatalf("%s %s: %v", d.Kind, d.Name, err)
		}
		again, err := Spec(v)
		if err != nil || string(again) != string(d.Spec) {
			t.Errorf("%s %s: spec %s, decoded and written again %s (%v)", d.Kind, d.Name, d.Spec, again, err)
		}
	}
	want := map[string]string{
		"streams.s":      `{"id":"/id","retention":{"max_age":"24h0m0s","max_bytes":1073741824},"schema":{"required":["id"],"type":"object"},"time":"/time"}`,
		"streams.inline": `{"schema":{"type":"object"}}`,
		"tables.t":       `{"key":"event.k","time":"/time"}`,
		"functions.f":    `{"max_batch":10,"process":{"command":["` + dir + `/fn.py"],"dir":"` + dir + `","instances":2}}`,
		"sources.feed":   `{"dir":"` + dir + `","file":{"paths":["in.ndjson"]},"to":"s"}`,
		"sources.sse":    `{"dir":"` + dir + `","sse":{"idle_timeout":"30s","url":"http://127.0.0.1:1/x","user_agent":"me"},"to":"s"}`,
		"pipelines.p":    `{"from":"s","function":{"config":{"expr":"."},"name":"jq"},"to":[{"stream":"o"},{"table":"t"},{"files":{"roll":{"max_age":"1m"},"url":"file:///tmp/x"}}],"where":"event.id != \"\""}`,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s:\n got %s\nwant %s", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("definitions: %v", got)
	}
	var order []string
	for _, d := range defs {
		order = append(order, string(d.Kind))
	}
	if strings.Join(order, " ") != "streams streams tables functions sources sources pipelines" {
		t.Errorf("order = %v", order)
	}
}
