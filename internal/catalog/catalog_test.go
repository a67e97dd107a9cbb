package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/engine/jetstream"
	"github.com/sluice-dev/sluice/internal/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func bundle(t *testing.T, doc string) schema.Bundle {
	t.Helper()
	b, err := schema.FromDocument("urn:test", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openCatalog opens a catalog on an embedded engine of the test's own.
func openCatalog(t *testing.T) *Catalog {
	t.Helper()
	ctx := context.Background()
	e, err := jetstream.Open(ctx, jetstream.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	c, err := Open(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCatalog(t *testing.T) {
	ctx := context.Background()
	c := openCatalog(t)
	v1 := bundle(t, `{"type":"object","properties":{"a":{"type":"string"}}}`)
	s, err := c.Create(ctx, Stream{Name: "a.b"}, v1)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != DefaultID || s.Time != DefaultTime || s.Version != 1 {
		t.Fatalf("defaults not applied: %+v", s)
	}
	if _, err := c.Create(ctx, Stream{Name: "a.b"}, v1); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := c.Create(ctx, Stream{Name: "a"}, v1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, Stream{Name: "Bad Name", Key: []string{"wiki"}}, v1); !errors.Is(err, ErrInvalid) ||
		!strings.Contains(err.Error(), "name") || !strings.Contains(err.Error(), "key[0]") {
		t.Fatalf("invalid definition: %v", err)
	}

	// The same schema again is no new version.
	if _, changed, err := c.SetSchema(ctx, "a.b", bundle(t, `{"properties":{"a":{"type":"string"}},"type":"object"}`), false); err != nil || changed {
		t.Fatalf("same schema: changed=%v err=%v", changed, err)
	}
	v2 := bundle(t, `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`)
	if v, changed, err := c.SetSchema(ctx, "a.b", v2, false); err != nil || !changed || v.Version != 2 {
		t.Fatalf("compatible change: %+v %v %v", v, changed, err)
	}
	v3 := bundle(t, `{"type":"object","properties":{"b":{"type":"integer"}}}`)
	_, _, err = c.SetSchema(ctx, "a.b", v3, false)
	var ie *IncompatibleError
	if !errors.As(err, &ie) || !errors.Is(err, ErrIncompatible) || len(ie.Changes) != 1 || ie.Changes[0].Pointer != "/properties/a" {
		t.Fatalf("breaking change: %v", err)
	}
	v, changed, err := c.SetSchema(ctx, "a.b", v3, true)
	if err != nil || !changed || !v.Forced || len(v.Breaking) != 1 {
		t.Fatalf("forced change: %+v %v", v, err)
	}
	versions, err := c.Versions(ctx, "a.b")
	if err != nil || len(versions) != 3 || versions[2].Version != 3 || !versions[2].Forced {
		t.Fatalf("versions: %+v %v", versions, err)
	}
	if vs, _ := c.Versions(ctx, "a"); len(vs) != 1 {
		t.Fatalf("versions of a mix with a.b: %d", len(vs))
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "a" || list[1].Name != "a.b" || list[1].Version != 3 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := c.Delete(ctx, "a.b"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get(ctx, "a.b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if vs, _ := c.Versions(ctx, "a"); len(vs) != 1 {
		t.Fatalf("deleting a.b touched a: %d", len(vs))
	}
	// A deleted name can be created again, starting at version 1.
	if s, err := c.Create(ctx, Stream{Name: "a.b"}, v1); err != nil || s.Version != 1 {
		t.Fatalf("recreate: %+v %v", s, err)
	}
	if vs, _ := c.Versions(ctx, "a.b"); len(vs) != 1 {
		t.Fatalf("recreated stream has %d versions", len(vs))
	}
}

// Replicas are 1, 3 or 5, or unset (the node's default); they reach the
// engine's config, and a change of them is a change of settings.
func TestReplicas(t *testing.T) {
	for n, ok := range map[int]bool{0: true, 1: true, 2: false, 3: true, 4: false, 5: true, 7: false, -1: false} {
		s := Stream{Name: "r", Replicas: n}
		s.Defaults()
		err := s.Validate()
		if ok != (err == nil) {
			t.Errorf("replicas %d: %v", n, err)
		}
		if !ok && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("replicas: want 1, 3 or 5, got %d", n))) {
			t.Errorf("replicas %d: the error does not name the field and the rule: %v", n, err)
		}
		if ok && s.EngineConfig().Replicas != n {
			t.Errorf("replicas %d: engine config %+v", n, s.EngineConfig())
		}
	}
	if sameSettings(Stream{Replicas: 1}, Stream{Replicas: 3}) {
		t.Error("a change of replicas is no change of settings")
	}
}

// A schema version the stream does not name yet: the same schema is
// kept (nodes started at once with one config all write it), another
// schema written moments ago is another node's creation and refused, and
// one left by a create that failed long ago is replaced.
func TestCreateOverAVersionAlreadyThere(t *testing.T) {
	ctx := context.Background()
	c := openCatalog(t)
	mine := bundle(t, `{"type":"object","properties":{"a":{"type":"string"}}}`)
	other := bundle(t, `{"type":"object","properties":{"b":{"type":"string"}}}`)
	leave := func(name string, sch schema.Bundle, age time.Duration) {
		t.Helper()
		raw, _ := json.Marshal(Version{Version: 1, Schema: sch, Created: time.Now().UTC().Add(-age)})
		if _, err := c.kv.Create(ctx, versionKey(name, 1), raw); err != nil {
			t.Fatal(err)
		}
	}
	schemaOf := func(name string) schema.Bundle {
		t.Helper()
		v, err := c.Version(ctx, name, 1)
		if err != nil {
			t.Fatal(err)
		}
		return v.Schema
	}
	leave("same", mine, 0)
	if _, err := c.Create(ctx, Stream{Name: "same"}, mine); err != nil || !schemaOf("same").Equal(mine) {
		t.Fatalf("over the same schema: %v", err)
	}
	leave("busy", other, time.Second)
	if _, err := c.Create(ctx, Stream{Name: "busy"}, mine); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "another node") {
		t.Fatalf("over another node's schema of a second ago: %v", err)
	}
	if !schemaOf("busy").Equal(other) {
		t.Fatal("the other node's schema was replaced")
	}
	leave("old", other, time.Hour)
	if _, err := c.Create(ctx, Stream{Name: "old"}, mine); err != nil || !schemaOf("old").Equal(mine) {
		t.Fatalf("over a leftover of an hour ago: %v", err)
	}
}

func TestPreview(t *testing.T) {
	ctx := context.Background()
	c := openCatalog(t)
	b := bundle(t, `{"type":"object","properties":{"title":{"type":"string"}}}`)
	_, err := c.Create(ctx, Stream{Name: "p", Preview: []string{"/title", "/title", "wiki"}}, b)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `preview[1] "/title": given twice`) ||
		!strings.Contains(err.Error(), `preview[2] "wiki": not a JSON pointer`) {
		t.Fatalf("invalid preview: %v", err)
	}
	nine := []string{"/a", "/b", "/c", "/d", "/e", "/f", "/g", "/h", "/i"}
	if _, err := c.Create(ctx, Stream{Name: "p", Preview: nine}, b); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "preview: at most 8") {
		t.Fatalf("nine fields: %v", err)
	}

	// Without a preview the stored definition has no such field, as before.
	s, err := c.Create(ctx, Stream{Name: "p"}, b)
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := json.Marshal(s); strings.Contains(string(raw), "preview") {
		t.Fatalf("a definition without preview: %s", raw)
	}
	// A preview is a setting: no new schema version.
	s.Preview = []string{"/title"}
	got, changed, err := c.UpdateSettings(ctx, s)
	if err != nil || !changed || got.Version != 1 || len(got.Preview) != 1 {
		t.Fatalf("set preview: %+v changed=%v err=%v", got, changed, err)
	}
	if _, changed, err := c.UpdateSettings(ctx, s); err != nil || changed {
		t.Fatalf("the same preview again: changed=%v err=%v", changed, err)
	}
	s.Preview = nil
	if got, changed, err := c.UpdateSettings(ctx, s); err != nil || !changed || got.Preview != nil {
		t.Fatalf("unset preview: %+v changed=%v err=%v", got, changed, err)
	}
}
