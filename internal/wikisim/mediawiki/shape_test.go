package mediawiki

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The golden shape tests compare the simulator's answers with responses
// recorded from the real API (testdata/mediawiki-api, each {"_source",
// "response"}). Those requests asked for more than prop=images, so the real
// response is first cut down to the members a prop=images request gets
// (relevant below); what is left must have the same keys and JSON types,
// recursively, arrays judged by their first element.

// relevant is the part of a real response that prop=images produces; a nil
// value keeps the whole subtree.
var relevant = map[string]any{
	"batchcomplete": nil,
	"continue":      map[string]any{"imcontinue": nil, "continue": nil},
	"error":         nil,
	"query": map[string]any{
		"normalized": nil,
		"redirects":  nil,
		"pages": map[string]any{
			"pageid": nil, "ns": nil, "title": nil, "missing": nil, "invalid": nil, "invalidreason": nil,
			"images": nil,
		},
	},
}

// project keeps the members of v named in keep (recursively).
func project(v any, keep map[string]any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, sub := range keep {
			x, ok := v[k]
			if !ok {
				continue
			}
			if m, isMap := sub.(map[string]any); isMap {
				x = project(x, m)
			}
			out[k] = x
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = project(x, keep)
		}
		return out
	}
	return v
}

// shape is v's structure: objects keep their keys, arrays their first
// element's shape, and other values become their JSON type.
func shape(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = shape(x)
		}
		return out
	case []any:
		if len(v) == 0 {
			return []any{}
		}
		return []any{shape(v[0])}
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "?"
}

func TestGoldenShapes(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "testdata", "mediawiki-api")
	// Titles whose generated pages look like the recorded ones.
	many := titleWhere(t, en, "Douglas Adams", func(n int) bool { return n >= 3 })
	some := titleWhere(t, en, "Douglas Adams", func(n int) bool { return n >= 1 })
	none := titleWhere(t, en, "Douglas Adams", func(n int) bool { return n == 0 })
	for _, c := range []struct {
		file string
		opts Options
		kv   []string // the equivalent prop=images request
		// top-level members compared: the recorded requests also asked for
		// lists (random, backlinks) whose own continuation decides
		// batchcomplete and continue there, so those are left out.
		top []string
	}{
		{ // normalized, and images cut short by imlimit: continue, no batchcomplete
			file: "query_fv2_prop_images_douglas_adams.json",
			opts: Options{ImLimit: 2},
			kv:   []string{"titles", dbKey(many), "redirects", ""},
			top:  []string{"batchcomplete", "continue", "query"},
		},
		{ // imlimit=500: every image at once
			file: "querymore_fv2_imlimit500_douglas_adams.json",
			kv:   []string{"titles", some, "imlimit", "500", "redirects", ""},
			top:  []string{"query"},
		},
		{ // a redirect followed to a page without images
			file: "redirect_fv2_redirects_normalized.json",
			opts: Options{Redirects: map[PageRef]string{{Host: en, Title: "Adams, Douglas"}: none}},
			kv:   []string{"titles", "Adams, Douglas", "redirects", ""},
			top:  []string{"batchcomplete", "query"},
		},
	} {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			real := decode[struct{ Response map[string]any }](t, b).Response
			_, ts := start(t, c.opts)
			sim := decode[map[string]any](t, get(t, ts, en, params(append([]string{"action", "query", "prop", "images"}, c.kv...)...)).body)
			keep := map[string]any{}
			for _, k := range c.top {
				keep[k] = relevant[k]
			}
			want, got := shape(project(real, keep)), shape(project(sim, keep))
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("shape differs from the recording\nreal:      %s\nsimulator: %s", mustJSON(t, want), mustJSON(t, got))
			}
			// Everything the simulator answers is among the kept members.
			if all := shape(project(sim, relevant)); !reflect.DeepEqual(all, shape(sim)) {
				t.Fatalf("simulator answers members never checked: %s", mustJSON(t, sim))
			}
		})
	}
}
