package function_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/identity"
)

// netConfig is the config of a function kind with a network target.
type netConfig struct {
	Hosts []string `json:"hosts"`
	Mode  string   `json:"mode"`
}

// netFunc remembers the config it was built with.
type netFunc struct{ cfg netConfig }

func (f *netFunc) Call(ctx context.Context, events []json.RawMessage) []function.Result {
	return make([]function.Result, len(events))
}

var netSpec = function.Spec{Name: "net", Fields: []function.Field{
	{Name: "hosts", Type: "[]string", Default: []string{"default.example"}, Operator: true},
	{Name: "mode", Type: "string"},
}, New: func(config map[string]any) (function.Function, error) {
	c := netConfig{Hosts: []string{"default.example"}}
	if err := function.DecodeConfig(config, &c); err != nil {
		return nil, err
	}
	return &netFunc{cfg: c}, nil
}}

func built(t *testing.T, r *function.Registry, config map[string]any) netConfig {
	t.Helper()
	f, err := r.Invoke("net", config)
	if err != nil {
		t.Fatal(err)
	}
	return f.(*netFunc).cfg
}

func TestInvokeRefusesOperatorFields(t *testing.T) {
	r := function.NewRegistry(netSpec, identity.Spec)
	if got := netSpec.OperatorFields(); !reflect.DeepEqual(got, []string{"hosts"}) {
		t.Fatalf("operator fields %v", got)
	}
	// encoding/json matches keys without regard to case (with Unicode
	// folding: "ſ" is an "s"), so the check must too.
	for _, key := range []string{"hosts", "HOSTS", "Hosts", "hoſts"} {
		_, err := r.Invoke("net", map[string]any{"mode": "x", key: []any{"evil.example"}})
		var oe *function.OperatorFieldError
		if !errors.As(err, &oe) || oe.Field != "hosts" || oe.Key != key {
			t.Fatalf("%s: %v", key, err)
		}
	}
	// Without operator values: the kind's defaults.
	c := built(t, r, map[string]any{"mode": "x"})
	if !reflect.DeepEqual(c.Hosts, []string{"default.example"}) || c.Mode != "x" {
		t.Fatalf("defaults: %+v", c)
	}
	// A pipeline's config is the operator's: it sets hosts, and may.
	if _, err := r.New("net", map[string]any{"hosts": []any{"wiki.example"}}); err != nil {
		t.Fatal(err)
	}
}

func TestInvokeTakesTheOperatorsValues(t *testing.T) {
	r := function.NewRegistry(netSpec, identity.Spec)
	r.SetOperatorValues(map[string]function.Use{
		"pipelines.a":  {Function: "net", Config: map[string]any{"HOSTS": []any{"sim.example"}, "mode": "a"}},
		"pipelines.b":  {Function: "net", Config: map[string]any{"hosts": []any{"sim.example"}, "mode": "b"}},
		"pipelines.id": {Function: "identity"},
		"pipelines.x":  {Function: "unknown"},
	})
	c := built(t, r, map[string]any{"mode": "mine"})
	if !reflect.DeepEqual(c.Hosts, []string{"sim.example"}) || c.Mode != "mine" {
		t.Fatalf("operator values: %+v", c)
	}
	if _, err := r.Invoke("identity", nil); err != nil {
		t.Fatal(err)
	}

	r.SetOperatorValues(map[string]function.Use{
		"pipelines.a": {Function: "net", Config: map[string]any{"hosts": []any{"sim.example"}}},
		"pipelines.b": {Function: "net", Config: map[string]any{"mode": "b"}}, // the defaults: not the same
	})
	if _, err := r.Invoke("net", map[string]any{}); !errors.Is(err, function.ErrOperatorConflict) {
		t.Fatalf("pipelines disagree: %v", err)
	}
}
