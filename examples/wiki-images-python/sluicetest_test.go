package wikiimagespython_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/cli"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
	"github.com/sluice-dev/sluice/internal/testenv"
	sim "github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// sluiceTest runs `sluice test dir` in this process and returns its output.
func sluiceTest(t *testing.T, dir string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Execute([]string{"test", dir}, &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), " passed, 0 failed") {
		t.Fatalf("sluice test %s: exit %d\n%s%s", dir, code, out.String(), errOut.String())
	}
	return out.String()
}

// The example's own cases (tests/wiki_image_list.yaml, the built-in's cases)
// pass with the Python function run as a process, on the simulated API.
func TestSluiceTest(t *testing.T) {
	testenv.Python3(t)
	out := sluiceTest(t, ".")
	if !strings.Contains(out, "9 passed, 0 failed") {
		t.Fatalf("want the 9 cases:\n%s", out)
	}
}

// TestSameAsBuiltinAsProcess: the built-in's outputs on the recorded
// events become the expected outputs of a `sluice test` case of a pipeline
// whose function is the Python one, run as a process (2 instances, batches
// of 100) over the Lambda Runtime API; the events that fail in the
// built-in must fail there too, with the built-in's message.
func TestSameAsBuiltinAsProcess(t *testing.T) {
	testenv.Python3(t)
	s, base := startSim(t, sim.Options{ImLimit: 2})
	events := recordedEvents(t, s)
	config := map[string]any{"user_agent": userAgent, "api_base": base}
	want := builtinCall(t, config, events)

	here, _ := filepath.Abs(".")
	dir := t.TempDir()
	project := map[string]any{
		"streams": map[string]any{
			"in":  map[string]any{"schema": filepath.Join(here, "../wiki-images/schemas/mediawiki/recentchange/1.0.0.yaml")},
			"out": map[string]any{"schema": filepath.Join(here, "../wiki-images/schemas/wiki/page_images.json")},
		},
		"functions": map[string]any{"wiki_py": map[string]any{
			"process":   map[string]any{"command": []string{"python3", filepath.Join(here, "functions/wiki_image_list.py")}, "instances": 2},
			"config":    config,
			"max_batch": 100,
		}},
		"pipelines": map[string]any{"same": map[string]any{
			"from": "in", "function": map[string]any{"name": "wiki_py"}, "to": []any{map[string]any{"stream": "out"}},
		}},
	}
	// The case holds the events the input stream stores: it refuses the
	// others (a field of the wrong type), so a pipeline never sees them.
	stored := storedBy(t, filepath.Join(here, "../wiki-images/schemas/mediawiki/recentchange/1.0.0.yaml"))
	var input []any
	var expect []any
	for i, e := range events {
		if !stored(e) {
			continue
		}
		var ev any
		if err := json.Unmarshal(e, &ev); err != nil {
			t.Fatal(err)
		}
		input = append(input, ev)
		if err := want[i].Err; err != nil {
			expect = append(expect, map[string]any{"error": err.Error()})
			continue
		}
		for _, o := range want[i].Outputs {
			var v any
			json.Unmarshal(o, &v)
			expect = append(expect, map[string]any{"json": v, "ignore": []string{"/create_date_time"}})
		}
	}
	cases := map[string]any{"pipeline": "same", "cases": []any{map[string]any{
		"name": fmt.Sprintf("the %d recorded events give the built-in's outputs", len(input)), "input": input, "expect": expect}}}
	write := func(name string, v any) {
		b, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sluice.yaml", project)
	write("tests/same.yaml", cases)
	if out := sluiceTest(t, dir); !strings.Contains(out, "1 passed, 0 failed") {
		t.Fatalf("want the one case:\n%s", out)
	}
}

// storedBy says whether a stream of the schema at path (with the default
// id and time pointers) would store an event.
func storedBy(t *testing.T, path string) func(json.RawMessage) bool {
	t.Helper()
	b, err := schema.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := schema.Compile(b)
	if err != nil {
		t.Fatal(err)
	}
	def := catalog.Stream{Name: "in"}
	def.Defaults()
	r := stream.Rules{Def: def, Schema: sch, Limits: stream.DefaultLimits}
	return func(e json.RawMessage) bool { return r.Check(e) == nil }
}
