package source_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/source"
	"github.com/sluice-dev/sluice/internal/source/eventsource"
	"github.com/sluice-dev/sluice/internal/source/file"
)

func TestRegistryOfKinds(t *testing.T) {
	kinds := source.NewRegistry(eventsource.Kind, file.Kind)
	for _, c := range []struct {
		def  source.Definition
		want string
	}{
		{source.Definition{To: "s"}, "give exactly one kind: file or sse"},
		{source.Definition{To: "s", Kinds: map[string]any{"sse": map[string]any{}, "file": map[string]any{}}}, "give exactly one kind"},
		{source.Definition{Kinds: map[string]any{"file": map[string]any{"paths": []any{}}}}, "file.paths: at least one file; to: required"},
		{source.Definition{To: "s", Kinds: map[string]any{"sse": "x"}}, "sse: want a mapping of settings"},
		{source.Definition{To: "s", Dir: "rel", Kinds: map[string]any{"file": map[string]any{"paths": []any{"a"}}}}, `dir: "rel": want an absolute path`},
	} {
		if errs := kinds.Check("n", c.def); !strings.Contains(errs.Error(), c.want) {
			t.Errorf("%+v: %q, want %q", c.def, errs.Error(), c.want)
		}
	}
	// relative paths start at the definition's folder
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.ndjson"), []byte(`{"a":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := kinds.Spec("n", source.Definition{To: "s", Dir: dir, Kinds: map[string]any{"file": map[string]any{"paths": []any{"in.ndjson"}}}}, source.Env{Dir: "/nowhere"})
	if err != nil || spec.Kind != "file" || spec.To != "s" {
		t.Fatalf("spec = %+v, %v", spec, err)
	}
	out := make(chan source.Item, 4)
	if err := spec.Feed.Run(context.Background(), source.Resume{}, out, &source.Status{}); err != source.ErrFinished {
		t.Fatalf("run: %v", err)
	}
	if it := <-out; string(it.Data) != `{"a":1}` {
		t.Fatalf("read %q", it.Data)
	}
}
