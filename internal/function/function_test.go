package function_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/identity"
	"github.com/sluice-dev/sluice/internal/function/jq"
)

func registry() *function.Registry { return function.NewRegistry(identity.Spec, jq.Spec) }

func call(t *testing.T, f function.Function, events ...string) []function.Result {
	t.Helper()
	in := make([]json.RawMessage, len(events))
	for i, e := range events {
		in[i] = json.RawMessage(e)
	}
	return f.Call(context.Background(), in)
}

func TestIdentity(t *testing.T) {
	f, err := registry().New("identity", nil)
	if err != nil {
		t.Fatal(err)
	}
	res := call(t, f, `{"a":1}`, `{"b":2}`)
	if len(res) != 2 || string(res[1].Outputs[0]) != `{"b":2}` {
		t.Fatalf("%+v", res)
	}
	if _, err := registry().New("identity", map[string]any{"x": 1}); !errors.Is(err, function.ErrConfig) || !strings.Contains(err.Error(), `unknown field "x"`) {
		t.Fatalf("unknown field: %v", err)
	}
}

func TestJQ(t *testing.T) {
	f, err := registry().New("jq", map[string]any{"program": `select(.bot | not) | {title, n: (.n + 1)}`})
	if err != nil {
		t.Fatal(err)
	}
	res := call(t, f, `{"title":"A","bot":false,"n":2}`, `{"title":"B","bot":true,"n":1}`, `{"title":"C","bot":false,"n":"x"}`)
	if len(res) != 3 || len(res[0].Outputs) != 1 || string(res[0].Outputs[0]) != `{"n":3,"title":"A"}` {
		t.Fatalf("event 0: %+v", res[0])
	}
	if len(res[1].Outputs) != 0 || res[1].Err != nil {
		t.Fatalf("filtered event: %+v", res[1])
	}
	if res[2].Err == nil || !strings.Contains(res[2].Err.Error(), "cannot add") {
		t.Fatalf("error event: %+v", res[2])
	}
	many, _ := registry().New("jq", map[string]any{"program": `range(3) as $i | {i: $i}`})
	if res := call(t, many, `{}`); len(res[0].Outputs) != 3 {
		t.Fatalf("several outputs: %+v", res)
	}
	runaway, _ := registry().New("jq", map[string]any{"program": `range(1e9)`})
	if res := call(t, runaway, `{}`); res[0].Err == nil {
		t.Fatal("a runaway program was not stopped")
	}
	for cfg, want := range map[string]string{`{}`: "program: required", `{"program":"{"}`: "program:", `{"program":1}`: "program: want string"} {
		var m map[string]any
		json.Unmarshal([]byte(cfg), &m)
		if _, err := registry().New("jq", m); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", cfg, err, want)
		}
	}
}

func TestRegistry(t *testing.T) {
	r := registry()
	if _, err := r.New("nope", nil); !errors.Is(err, function.ErrUnknown) || !strings.Contains(err.Error(), "identity, jq") {
		t.Fatalf("unknown: %v", err)
	}
	if specs := r.Specs(); len(specs) != 2 || specs[0].Name != "identity" || specs[1].Fields[0].Name != "program" {
		t.Fatalf("specs %+v", specs)
	}
}
