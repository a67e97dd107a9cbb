package config_test

import (
	"testing"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/pipeline"
)

// FuzzSpec: any API body, for any kind, decodes or is refused with an
// error; what decodes is checked by its kind without a panic, and its spec
// reads back to the same spec (the catalog's canonical form is stable).
func FuzzSpec(f *testing.F) {
	for _, seed := range []string{
		`{"from":"in","where":"event.a > 1","function":{"name":"jq","config":{"program":"."}},"to":[{"stream":"o"},{"table":"t"},{"sql":{"url":"sqlite:x.db","table":"t","columns":{"a":"/a"}}},{"files":{"url":"file:///tmp/x","roll":{"max_age":"1m"}}}]}`,
		`{"sse":{"url":"http://127.0.0.1/x","user_agent":"me","idle_timeout":"30s"},"to":"s","drop":"false"}`,
		`{"file":{"paths":["a.ndjson"]},"to":"s","dir":"/tmp"}`,
		`{"key":"event.id","time":"/t","delete_when":"event.gone"}`,
		`{"schema":{"type":"object"},"id":"/id","time":"/t","retention":{"max_age":"24h","max_bytes":"1GiB"}}`,
		`{"process":{"command":["python3","f.py"]},"max_batch":10}`,
		`{"to":[{"stream":{"a":1}}],"max_in_flight":-1}`, `[]`, `null`, `{"a":&x}`,
	} {
		for k := range 5 {
			f.Add(uint8(k), []byte(seed))
		}
	}
	sources, outputs := node.SourceKinds(), node.OutputKinds()
	f.Fuzz(func(t *testing.T, k uint8, body []byte) {
		kind := catalog.Kinds[int(k)%len(catalog.Kinds)]
		canon, err := catalog.Canonical(body)
		if err != nil {
			return // not JSON: the API refuses it before any decoding
		}
		v, err := config.Decode(kind, canon)
		if err != nil {
			return
		}
		switch x := v.(type) {
		case config.Source:
			_ = sources.Check("n", x)
		case config.Pipeline:
			_ = outputs.Check("n", x, pipeline.CheckEnv{})
		case config.Table:
			_ = x.Check("n")
		case config.Stream:
			_ = x.Check("n")
		}
		spec, err := config.Spec(v)
		if err != nil {
			return // a value YAML cannot write back (refused by Put the same way)
		}
		again, err := config.Decode(kind, spec)
		if err != nil {
			t.Fatalf("%s: the spec %s does not decode again: %v", kind, spec, err)
		}
		spec2, err := config.Spec(again)
		if err != nil || string(spec2) != string(spec) {
			t.Fatalf("%s: spec %s, then %s (%v)", kind, spec, spec2, err)
		}
		if d := catalog.DiffFields(spec, spec2); len(d) != 0 {
			t.Fatalf("equal specs differ in %v", d)
		}
	})
}
