//go:build reliability

package reliability

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	wikiimages "github.com/sluice-dev/sluice/examples/wiki-images"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/filter"
	"github.com/sluice-dev/sluice/internal/function/mediawiki"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/wikisim/eventstreams"
)

// The names the flagship project gives its parts.
const (
	input    = "wikimedia.recentchange"
	output   = "wiki.page_images"
	src      = "recentchange"
	pipeName = "wiki_image_list"
	tbl      = "page_images"
)

// recorded is one loop of the recorded real events the demo replays.
func recorded(t *testing.T) [][]byte {
	t.Helper()
	evs, err := eventstreams.LoadFS(wikiimages.Recorded(), wikiimages.RecordedFiles...)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// projectConfig is the flagship project as `sluice demo` runs it: the
// source reads feedURL (if not empty; else the project has no source), the
// function asks apiBase (if not empty; else it has no pipeline), the
// pipeline starts at the beginning of the stream.
func projectConfig(t *testing.T, feedURL, apiBase string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, wikiimages.Project()); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "sluice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = filepath.Join(dir, "data"), "127.0.0.1:0"
	if feedURL == "" {
		delete(cfg.Sources, src)
	} else {
		cfg.Sources[src] = cfg.Sources[src].With("sse", map[string]any{"url": feedURL, "since": nil})
	}
	if apiBase == "" {
		delete(cfg.Pipelines, pipeName)
		delete(cfg.Tables, tbl)
	} else {
		p := cfg.Pipelines[pipeName]
		p.Start = "earliest"
		p.Function.Config = maps.Clone(p.Function.Config)
		p.Function.Config["api_base"] = apiBase
		cfg.Pipelines[pipeName] = p
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startNode runs a node in the test's process; it stops at cleanup.
func startNode(t *testing.T, cfg *config.Config) (*node.Node, string) {
	t.Helper()
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		http.DefaultClient.CloseIdleConnections()
	})
	return n, "http://" + n.Addr()
}

// replayIDs are the meta.id of the first n events of the looped replay of
// evs.
func replayIDs(t *testing.T, evs [][]byte, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i, e := range replayEvents(t, evs, n) {
		ids[i] = metaID(t, e)
	}
	return ids
}

// replayEvents are the first n events of the looped replay of evs, read
// from a replay server of their own (no faults, no pacing).
func replayEvents(t *testing.T, evs [][]byte, n int) []json.RawMessage {
	t.Helper()
	if n == 0 {
		return nil
	}
	s := eventstreams.New(evs, eventstreams.Options{Loop: true})
	ts := httptest.NewServer(s)
	defer ts.Close()
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/v2/stream/recentchange", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	out := make([]json.RawMessage, n)
	for i := range out {
		if err := dec.Decode(&out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// metaID is an event's meta.id.
func metaID(t *testing.T, raw []byte) string {
	t.Helper()
	var e struct{ Meta struct{ ID string } }
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("%v: %.200s", err, raw)
	}
	return e.Meta.ID
}

// qualifying are the ids of the inputs the pipeline's where accepts.
func qualifying(t *testing.T, cfg *config.Config, inputs []json.RawMessage) []string {
	t.Helper()
	f, err := filter.Compile(cfg.Pipelines[pipeName].Where)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, raw := range inputs {
		doc, err := schema.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := f.Match(doc); err != nil {
			t.Fatal(err)
		} else if ok {
			ids = append(ids, metaID(t, raw))
		}
	}
	return ids
}

// checkOutputs checks that outputs hold exactly one output per qualifying
// input id, and returns the table keys they give (wiki:page_id) with how
// many outputs each.
func checkOutputs(t *testing.T, qualifyingIDs []string, outputs []json.RawMessage) map[string]int {
	t.Helper()
	want := map[string]string{} // output id -> input id
	for _, id := range qualifyingIDs {
		want[mediawiki.OutputID(id)] = id
	}
	seen := map[string]bool{}
	keys := map[string]int{}
	for i, raw := range outputs {
		var o struct {
			Meta   struct{ ID string }
			Wiki   string `json:"wiki"`
			PageID string `json:"page_id"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		switch {
		case seen[o.Meta.ID]:
			t.Fatalf("output %d (%s) is a duplicate", i, o.Meta.ID)
		case want[o.Meta.ID] == "":
			t.Fatalf("output %d (%s) belongs to no qualifying input", i, o.Meta.ID)
		}
		seen[o.Meta.ID] = true
		if o.PageID != "" {
			keys[o.Wiki+":"+o.PageID]++
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%d outputs for %d qualifying inputs", len(seen), len(want))
	}
	return keys
}

// tableDump is every version of every key.
type tableDump map[string][]json.RawMessage

func dumpTable(t *testing.T, base string, keys map[string]int) tableDump {
	t.Helper()
	out := tableDump{}
	for k := range keys {
		var h struct{ Versions []json.RawMessage }
		mustGet(t, base, "/v1/tables/"+tbl+"/keys/"+url.PathEscape(k)+"/history", &h)
		out[k] = h.Versions
	}
	return out
}

// checkTable checks that the table has one version per output that names
// a page, and that rebuilding it from the output stream gives the same.
func checkTable(t *testing.T, base string, keys map[string]int) (versions int) {
	t.Helper()
	before := dumpTable(t, base, keys)
	for k, n := range keys {
		if len(before[k]) != n {
			t.Fatalf("key %s: %d versions, %d outputs", k, len(before[k]), n)
		}
		versions += n
	}
	var res struct{ Outputs uint64 }
	res.Outputs = operate(t, base, "/v1/tables/"+tbl+"/rebuild").Progress.Succeeded
	after := dumpTable(t, base, keys)
	if !reflect.DeepEqual(before, after) {
		names := make([]string, 0, len(keys))
		for k := range keys {
			if !reflect.DeepEqual(before[k], after[k]) {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		b, a := before[names[0]], after[names[0]]
		t.Logf("before %d versions, after %d", len(b), len(a))
		for i := range min(len(a), len(b)) {
			if string(a[i]) != string(b[i]) {
				t.Logf("version %d:\nbefore %s\nafter  %s", i, b[i], a[i])
				break
			}
		}
		t.Fatalf("the table differs from its rebuild (from %d outputs) at %d keys, e.g. %s", res.Outputs, len(names), names[0])
	}
	return versions
}
