package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine/jetstream"
)

func openEngine(t *testing.T) *jetstream.Engine {
	t.Helper()
	e, err := jetstream.Open(context.Background(), jetstream.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func TestDefinitionsLifecycle(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t)
	d, err := catalog.OpenDefinitions(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	spec := json.RawMessage(`{"from":"s", "where":"true", "to":[{"stream":"o"}]}`)
	def, ch, err := d.Put(ctx, catalog.Pipelines, "p", spec, catalog.Write{By: "ann", Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if def.Version != 1 || ch.Op != catalog.OpCreate || string(def.Spec) != `{"from":"s","to":[{"stream":"o"}],"where":"true"}` {
		t.Fatalf("create = %+v %+v", def, ch)
	}
	if _, _, err := d.Put(ctx, catalog.Pipelines, "p", spec, catalog.Write{By: "ann", Create: true}); !errors.Is(err, catalog.ErrDefinitionExists) {
		t.Fatalf("create twice: %v", err)
	}
	// the same spec written differently is no change
	if _, ch, err := d.Put(ctx, catalog.Pipelines, "p", json.RawMessage(`{"to":[{"stream":"o"}],"from":"s","where":"true"}`), catalog.Write{By: "bob"}); err != nil || ch.Op != "" {
		t.Fatalf("same spec: %+v %v", ch, err)
	}
	_, rev, _ := d.Get(ctx, catalog.Pipelines, "p")
	def, ch, err = d.Put(ctx, catalog.Pipelines, "p", json.RawMessage(`{"from":"s","where":"false","to":[{"stream":"x"}]}`), catalog.Write{By: "bob", IfRevision: rev})
	if err != nil {
		t.Fatal(err)
	}
	if def.Version != 2 || ch.Op != catalog.OpUpdate || !reflect.DeepEqual(ch.Fields, []string{"to[0].stream", "where"}) {
		t.Fatalf("update = %+v %+v", def, ch)
	}
	if _, _, err := d.Put(ctx, catalog.Pipelines, "p", spec, catalog.Write{By: "bob", IfRevision: rev}); !errors.Is(err, catalog.ErrStale) {
		t.Fatalf("stale revision: %v", err)
	}
	if _, _, err := d.Put(ctx, catalog.Tables, "p", json.RawMessage(`{"key":"event.k"}`), catalog.Write{By: "ann", Create: true}); err != nil {
		t.Fatal(err) // another kind, same name
	}
	if err := d.Delete(ctx, catalog.Pipelines, "p", "cy"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Get(ctx, catalog.Pipelines, "p"); !errors.Is(err, catalog.ErrNoDefinition) {
		t.Fatalf("get deleted: %v", err)
	}
	def, _, err = d.Put(ctx, catalog.Pipelines, "p", spec, catalog.Write{By: "ann", Create: true})
	if err != nil || def.Version != 4 {
		t.Fatalf("create after delete: %+v %v", def, err)
	}
	h, err := d.History(ctx, catalog.Pipelines, "p")
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, c := range h {
		ops = append(ops, c.Op+":"+c.By)
	}
	if !reflect.DeepEqual(ops, []string{"create:ann", "update:bob", "delete:cy", "create:ann"}) {
		t.Fatalf("history = %v", ops)
	}
	list, err := d.List(ctx, catalog.Pipelines)
	if err != nil || len(list) != 1 || list[0].Name != "p" {
		t.Fatalf("list = %+v %v", list, err)
	}
}

func TestDefinitionsWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := openEngine(t)
	d, err := catalog.OpenDefinitions(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Put(ctx, catalog.Sources, "a", json.RawMessage(`{"to":"s"}`), catalog.Write{Create: true}); err != nil {
		t.Fatal(err)
	}
	ch, err := d.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := func() catalog.DefinitionChange {
		select {
		case c := <-ch:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no change in 10s")
		}
		return catalog.DefinitionChange{}
	}
	if c := next(); c.Kind != catalog.Sources || c.Name != "a" || c.Def == nil {
		t.Fatalf("initial = %+v", c)
	}
	if c := next(); !c.CaughtUp {
		t.Fatalf("want caught up, got %+v", c)
	}
	if _, _, err := d.Put(ctx, catalog.Pipelines, "p.x", json.RawMessage(`{}`), catalog.Write{Create: true}); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Kind != catalog.Pipelines || c.Name != "p.x" || c.Def == nil || c.Def.Version != 1 {
		t.Fatalf("put = %+v", c)
	}
	if err := d.Delete(ctx, catalog.Sources, "a", ""); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Kind != catalog.Sources || c.Name != "a" || c.Def != nil {
		t.Fatalf("delete = %+v", c)
	}
}

func TestDiffFields(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want []string
	}{
		{`{"a":1}`, `{"a":1}`, nil},
		{`{"a":1}`, `{"a":1.0}`, []string{"a"}},
		{`{"f":{"c":{"x":1,"y":2}}}`, `{"f":{"c":{"x":1,"y":3}}}`, []string{"f.c.y"}},
		{`{"to":[{"s":"a"},{"t":"b"}]}`, `{"to":[{"s":"a"},{"t":"c"}]}`, []string{"to[1].t"}},
		{`{"to":[1]}`, `{"to":[1,2]}`, []string{"to"}},
		{`{"a":1}`, `{"b":1}`, []string{"a", "b"}},
	} {
		if got := catalog.DiffFields([]byte(c.a), []byte(c.b)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("DiffFields(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
