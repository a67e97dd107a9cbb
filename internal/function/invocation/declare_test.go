package invocation_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/identity"
	"github.com/sluice-dev/sluice/internal/function/invocation"
	"github.com/sluice-dev/sluice/internal/function/jq"
)

// fakeKind is a kind whose invoker is the fake of function_test.go.
var fakeKind = invocation.Kind{Name: "fake", New: func(name string, settings map[string]any, env invocation.Env) (invocation.Invoker, any, error) {
	if settings["bad"] != nil {
		return nil, nil, errors.New(env.Path + ".bad: no")
	}
	return &fake{concurrency: 1}, map[string]any{"shown": true}, nil
}}

func TestDeclare(t *testing.T) {
	reg := function.NewRegistry(identity.Spec, jq.Spec)
	defer reg.Close()
	kinds := []invocation.Kind{fakeKind}
	must := func(d invocation.Declaration) {
		t.Helper()
		if err := invocation.Declare(reg, kinds, d, invocation.Env{}); err != nil {
			t.Fatal(err)
		}
	}
	must(invocation.Declaration{Name: "titles", Kind: "jq", Config: map[string]any{"program": "{title}"}, Doc: "titles only"})
	must(invocation.Declaration{Name: "mine", Kinds: map[string]any{"fake": map[string]any{}}, Config: map[string]any{"k": 1}, MaxBatch: 7})
	f, err := reg.New("titles", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res := f.Call(context.Background(), []json.RawMessage{json.RawMessage(`{"title":"A","x":1}`)}); string(res[0].Outputs[0]) != `{"title":"A"}` {
		t.Fatalf("%+v", res)
	}
	if _, err := reg.New("titles", map[string]any{"program": "."}); !errors.Is(err, function.ErrPreset) || !errors.Is(err, function.ErrConfig) {
		t.Fatalf("a config for a named function: %v", err)
	}
	n, ok := reg.Lookup("mine")
	if !ok || n.Kind != "fake" || n.MaxBatch != 7 || n.Payload != "sluice" || n.Settings.(map[string]any)["shown"] != true {
		t.Fatalf("%+v", n)
	}
	if got := reg.Named(); len(got) != 2 || got[0].Name != "mine" || got[1].Doc != "titles only" {
		t.Fatalf("named %+v", got)
	}
	for _, c := range []struct {
		d    invocation.Declaration
		want string
	}{
		{invocation.Declaration{Name: "Bad Name", Kind: "jq"}, "functions.Bad Name: function names are"},
		{invocation.Declaration{Name: "x"}, "functions.x: give exactly one of fake or kind"},
		{invocation.Declaration{Name: "x", Kind: "jq", Kinds: map[string]any{"fake": map[string]any{}}}, "give exactly one"},
		{invocation.Declaration{Name: "x", Kinds: map[string]any{"proces": map[string]any{}}}, "functions.x.proces: unknown field"},
		{invocation.Declaration{Name: "x", Kinds: map[string]any{"fake": "cmd"}}, "functions.x.fake: want a mapping"},
		{invocation.Declaration{Name: "x", Kinds: map[string]any{"fake": map[string]any{"bad": 1}}}, "functions.x.fake.bad: no"},
		{invocation.Declaration{Name: "x", Kinds: map[string]any{"fake": map[string]any{}}, MaxBatch: 20000}, "functions.x.max_batch: want 1 to 10000"},
		{invocation.Declaration{Name: "x", Kinds: map[string]any{"fake": map[string]any{}}, Payload: "soap"}, `functions.x.payload: "soap"`},
		{invocation.Declaration{Name: "x", Kind: "jq", MaxBatch: 5}, "max_batch and payload are for fake functions"},
		{invocation.Declaration{Name: "x", Kind: "jq"}, "functions.x: invalid function config: jq: program: required"},
		{invocation.Declaration{Name: "x", Kind: "nope"}, `unknown function "nope"`},
		{invocation.Declaration{Name: "x", Kind: "titles"}, `functions.x.kind: "titles" is a named function`},
		{invocation.Declaration{Name: "jq", Kind: "identity"}, `functions.jq: "jq" is the name of a built-in function kind`},
		{invocation.Declaration{Name: "mine", Kind: "identity"}, `functions.mine: function "mine" declared twice`},
	} {
		if err := invocation.Declare(reg, kinds, c.d, invocation.Env{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.d, err, c.want)
		}
	}
}
