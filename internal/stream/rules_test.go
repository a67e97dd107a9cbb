package stream_test

import (
	"testing"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
)

// TestRulesCheck: a stream's rules, checked with no engine, refuse what
// Produce refuses, each with its pointer and rule.
func TestRulesCheck(t *testing.T) {
	b, err := schema.FromDocument("urn:t", []byte(`{"type":"object","required":["n"],"properties":{"n":{"type":"integer"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	sch, err := schema.Compile(b)
	if err != nil {
		t.Fatal(err)
	}
	def := catalog.Stream{Name: "s"}
	def.Defaults()
	r := stream.Rules{Def: def, Schema: sch, Limits: stream.Limits{MaxEventBytes: 100}}
	for _, c := range []struct {
		raw, pointer, rule string
	}{
		{`{"meta":{"id":"a","dt":"2026-01-01T00:00:00Z"},"n":1}`, "", ""},
		{`{"meta":{"id":"a","dt":"2026-01-01T00:00:00Z"}}`, "", "required"},
		{`{"meta":{"id":"a","dt":"2026-01-01T00:00:00Z"},"n":"x"}`, "/n", "type"},
		{`{"meta":{"dt":"2026-01-01T00:00:00Z"},"n":1}`, "/meta/id", stream.RuleID},
		{`{"meta":{"id":"a","dt":"yesterday"},"n":1}`, "/meta/dt", stream.RuleTime},
		{`[1]`, "", stream.RuleObject},
		{`{"n":`, "/n", stream.RuleJSON},
		{`{"meta":{"id":"a","dt":"2026-01-01T00:00:00Z"},"n":1,"pad":"` + string(make([]byte, 100)) + `"}`, "", stream.RuleSize},
	} {
		vs := r.Check([]byte(c.raw))
		if c.rule == "" {
			if vs != nil {
				t.Errorf("%s: refused: %+v", c.raw, vs)
			}
			continue
		}
		if len(vs) == 0 || vs[0].Pointer != c.pointer || vs[0].Keyword != c.rule {
			t.Errorf("%.60s: got %+v, want %s at %q", c.raw, vs, c.rule, c.pointer)
		}
	}
}
