package project_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine/jetstream"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/stream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T) *project.Service {
	t.Helper()
	ctx := context.Background()
	e, err := jetstream.Open(ctx, jetstream.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	cat, err := catalog.Open(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := catalog.OpenDefinitions(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	fns := node.Functions()
	return &project.Service{Defs: defs, Streams: stream.New(e, cat, nil, nil), Builtin: fns.Builtin,
		Sources: node.SourceKinds(), Outputs: node.OutputKinds(), FunctionConfig: fns.Check}
}

func def(k catalog.Kind, name, spec string) catalog.Definition {
	return catalog.Definition{Kind: k, Name: name, Spec: []byte(spec)}
}

var base = []catalog.Definition{
	def(catalog.Streams, "in", `{"schema":{"type":"object"},"id":"/id","time":"/t"}`),
	def(catalog.Streams, "out", `{"schema":{"type":"object"},"id":"/id","time":"/t"}`),
	def(catalog.Tables, "t", `{"key":"event.id","time":"/t"}`),
	def(catalog.Pipelines, "p", `{"from":"in","function":{"name":"identity"},"to":[{"stream":"out"},{"table":"t"}]}`),
}

func lines(p project.Plan) []string {
	return strings.Split(strings.TrimSpace(p.String()), "\n")
}

func TestApplyPlansThenIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	plan, err := s.Apply(ctx, base, project.ApplyOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"+ streams.in", "+ streams.out", "+ tables.t", "+ pipelines.p"}
	if !reflect.DeepEqual(lines(plan), want) || plan.Applied {
		t.Fatalf("dry run = %q", lines(plan))
	}
	if _, err := s.Get(ctx, catalog.Pipelines, "p"); !errors.Is(err, catalog.ErrNoDefinition) {
		t.Fatalf("a dry run wrote: %v", err)
	}
	if plan, err = s.Apply(ctx, base, project.ApplyOptions{By: "test"}); err != nil || !plan.Applied {
		t.Fatalf("apply: %v %+v", err, plan)
	}
	if plan, err = s.Apply(ctx, base, project.ApplyOptions{}); err != nil || plan.String() != "no changes\n" {
		t.Fatalf("second apply: %v %q", err, plan.String())
	}
	changed := append([]catalog.Definition(nil), base...)
	changed[3] = def(catalog.Pipelines, "p", `{"from":"in","where":"event.id != ''","function":{"name":"identity"},"to":[{"stream":"out"},{"table":"t"}]}`)
	changed[0] = def(catalog.Streams, "in", `{"schema":{"type":"object","properties":{"x":{"type":"string"}}},"id":"/id","time":"/t","retention":{"max_age":"24h"}}`)
	plan, err = s.Apply(ctx, changed, project.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"~ streams.in (retention, schema)", "~ pipelines.p (where)"}; !reflect.DeepEqual(lines(plan), want) {
		t.Fatalf("update plan = %q", lines(plan))
	}
	// the first schema again: an earlier version, not a change
	again := append([]catalog.Definition(nil), changed...)
	again[0] = def(catalog.Streams, "in", `{"schema":{"type":"object"},"id":"/id","time":"/t","retention":{"max_age":"24h"}}`)
	if plan, err = s.Apply(ctx, again, project.ApplyOptions{DryRun: true}); err != nil || plan.String() != "no changes\n" {
		t.Fatalf("earlier schema: %v %q", err, plan.String())
	}
	h, err := s.History(ctx, catalog.Pipelines, "p")
	if err != nil || len(h) != 2 || h[0].By != "test" || !reflect.DeepEqual(h[1].Fields, []string{"where"}) {
		t.Fatalf("history = %+v %v", h, err)
	}
	if h, _ := s.History(ctx, catalog.Streams, "in"); len(h) != 2 || h[1].Op != catalog.OpUpdate {
		t.Fatalf("stream history = %+v", h)
	}
}

func TestApplyRefusals(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.Apply(ctx, base, project.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	bad := []catalog.Definition{
		def(catalog.Pipelines, "q", `{"from":"in","function":{"name":"nope"},"to":[{"table":"x"}]}`),
		def(catalog.Streams, "in", `{"schema":{"type":"string"},"id":"/id","time":"/t"}`),
	}
	_, err := s.Apply(ctx, bad, project.ApplyOptions{})
	var inv *project.Invalid
	if !errors.As(err, &inv) {
		t.Fatalf("want Invalid, got %v", err)
	}
	msg := err.Error()
	for _, w := range []string{`pipelines.q.to[0].table: unknown table "x"`, `streams.in.schema: breaks consumers`} {
		if !strings.Contains(msg, w) {
			t.Errorf("%q lacks %q", msg, w)
		}
	}
	moved := def(catalog.Pipelines, "p", `{"from":"out","function":{"name":"identity"},"to":[{"table":"t"}]}`)
	if _, _, err := s.Put(ctx, catalog.Pipelines, "p", moved.Spec, project.PutOptions{}); !errors.Is(err, project.ErrFromChanged) {
		t.Fatalf("from changed: %v", err)
	}
	if _, _, err := s.Put(ctx, catalog.Pipelines, "p", moved.Spec, project.PutOptions{Reset: "earliest"}); err != nil {
		t.Fatalf("from changed with reset: %v", err)
	}
	var inUse *project.InUse
	if err := s.Delete(ctx, catalog.Streams, "out", false, ""); !errors.As(err, &inUse) {
		t.Fatalf("delete a stream in use: %v", err)
	}
	if err := s.Delete(ctx, catalog.Tables, "t", false, ""); !errors.As(err, &inUse) || !strings.Contains(err.Error(), "pipelines.p (to[0].table)") {
		t.Fatalf("delete a table in use: %v", err)
	}
	if _, _, err := s.Put(ctx, catalog.Pipelines, "p", moved.Spec, project.PutOptions{Create: true}); !errors.Is(err, catalog.ErrDefinitionExists) {
		t.Fatalf("create existing: %v", err)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.Apply(ctx, base, project.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	only := base[:2]
	plan, err := s.Apply(ctx, only, project.ApplyOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"- pipelines.p", "- tables.t"}; !reflect.DeepEqual(lines(plan), want) {
		t.Fatalf("prune plan = %q", lines(plan))
	}
	if _, err := s.Get(ctx, catalog.Tables, "t"); !errors.Is(err, catalog.ErrNoDefinition) {
		t.Fatalf("pruned table still there: %v", err)
	}
	plan, err = s.Apply(ctx, nil, project.ApplyOptions{Prune: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"- streams.in: holds events: deleted only with force", "- streams.out: holds events: deleted only with force"}; !reflect.DeepEqual(lines(plan), want) {
		t.Fatalf("prune streams plan = %q", lines(plan))
	}
	if _, err := s.Apply(ctx, nil, project.ApplyOptions{Prune: true, Force: true}); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.List(ctx, catalog.Streams); len(list) != 0 {
		t.Fatalf("streams left: %+v", list)
	}
}

func TestFilesOutputsOfTwoPipelinesCannotShareAPlace(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.Apply(ctx, base, project.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := `{"from":"in","function":{"name":"identity"},"to":[{"stream":"out"},{"files":{"url":"file://` + dir + `"}}]}`
	if _, _, err := s.Put(ctx, catalog.Pipelines, "a", []byte(files), project.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Put(ctx, catalog.Pipelines, "b", []byte(files), project.PutOptions{})
	var inv *project.Invalid
	if !errors.As(err, &inv) || inv.Errors[0].Path != "to[1].files.url" || !strings.Contains(err.Error(), "pipelines.a.to[1].files writes the same place") {
		t.Fatalf("same place: %v", err)
	}
	if _, _, err := s.Put(ctx, catalog.Pipelines, "a", []byte(files), project.PutOptions{}); err != nil {
		t.Fatalf("a itself again: %v", err)
	}
}

// Every kind's checks name the field at fault, as a path in the spec.
func TestCheckNamesTheField(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.Apply(ctx, base, project.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kind catalog.Kind
		spec string
		want string
	}{
		{catalog.Pipelines, `{"from":"in","function":{"name":"identity"},"to":[{"table":"t"},{"table":"x"}]}`, `to[1].table: unknown table "x"`},
		{catalog.Pipelines, `{"from":"in","function":{"name":"identity"},"to":[{"stream":"out","table":"t"}]}`, `to[0]: give exactly one kind`},
		{catalog.Pipelines, `{"from":"in","function":{"name":"identity"},"to":[{"stream":"out"}],"where":"event."}`, `where: `},
		{catalog.Pipelines, `{"from":"in","function":{"name":"identity"},"to":[{"stream":"out"}],"colour":"red"}`, `field colour not found`},
		{catalog.Pipelines, `{"from":"orderz","function":{"name":"identity"},"to":[{"stream":"out"}]}`, `from: unknown stream "orderz"`},
		{catalog.Pipelines, `{"from":"in","function":{"name":"identity"},"to":[{"stream":"nope"}]}`, `to[0].stream: unknown stream "nope"`},
		{catalog.Pipelines, `{"from":"in","function":{"name":"jq","config":{"programm":1}},"to":[{"stream":"out"}]}`, `function.config: `},
		{catalog.Pipelines, `{"from":"in","function":{"name":"identity"},"to":[{"kafka":{}}]}`, `to[0].kafka: unknown kind of output`},
		{catalog.Pipelines, `{"from":"in","function":{"name":"identity"},"to":[{"stream":"out"},{"sql":{"table":"t","columns":{"a":"/a"}}}]}`, `to[1].sql.url: required`},
		{catalog.Sources, `{"to":"in"}`, `give exactly one kind: file or sse`},
		{catalog.Sources, `{"to":"in","sse":{"url":"ftp://x","user_agent":"me"}}`, `sse.url: "ftp://x": want an http(s) URL`},
		{catalog.Sources, `{"to":"in","sse":{"url":"http://x","user_agent":"me","colour":1}}`, `sse: field colour not found`},
		{catalog.Sources, `{"to":"nowhere","file":{"paths":["/x"]}}`, `to: unknown stream "nowhere"`},
		{catalog.Tables, `{"key":"event.k"}`, `time: required`},
		{catalog.Streams, `{"id":"x"}`, `schema: required`},
	} {
		_, _, err := s.Put(ctx, c.kind, "n", []byte(c.spec), project.PutOptions{})
		var inv *project.Invalid
		if !errors.As(err, &inv) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want %q", c.kind, c.spec, err, c.want)
		}
	}
}

// A preview is a setting of the stream, not of its schema: setting and
// unsetting it plans "~ streams.in (preview)" and keeps schema v1; a
// stream without one exports as before, with no preview field.
func TestStreamPreviewIsASetting(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.Apply(ctx, base, project.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := s.Get(ctx, catalog.Streams, "in")
	if err != nil || strings.Contains(string(d.Spec), "preview") {
		t.Fatalf("spec of a stream without preview: %s %v", d.Spec, err)
	}
	with := append([]catalog.Definition(nil), base...)
	with[0] = def(catalog.Streams, "in", `{"schema":{"type":"object"},"id":"/id","time":"/t","preview":["/title","/wiki"]}`)
	for i, defs := range [][]catalog.Definition{with, base} {
		plan, err := s.Apply(ctx, defs, project.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"~ streams.in (preview)"}; !reflect.DeepEqual(lines(plan), want) {
			t.Fatalf("apply %d: plan = %q", i, lines(plan))
		}
		st, err := s.Streams.Get(ctx, "in")
		if err != nil || st.Version != 1 || len(st.Preview) != 2*(1-i) {
			t.Fatalf("apply %d: %+v %v", i, st, err)
		}
	}
	if again, err := s.Get(ctx, catalog.Streams, "in"); err != nil || string(again.Spec) != string(d.Spec) {
		t.Fatalf("spec after unsetting the preview:\n%s\nwant\n%s (%v)", again.Spec, d.Spec, err)
	}
	bad := append([]catalog.Definition(nil), base...)
	bad[0] = def(catalog.Streams, "in", `{"schema":{"type":"object"},"id":"/id","time":"/t","preview":["/a","b"]}`)
	if _, err := s.Apply(ctx, bad, project.ApplyOptions{DryRun: true}); err == nil || !strings.Contains(err.Error(), `streams.in.preview[1]`) {
		t.Fatalf("a bad preview: %v", err)
	}
}
