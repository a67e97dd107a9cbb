package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// TestWikiImageListEndToEnd runs the flagship pipeline on the embedded
// engine against the simulated MediaWiki API: the 100 recorded events give
// the simulator's truth, with few requests; when the API fails beyond the
// retries the inputs go to the dead letters with the whole error, and a
// redrive after the API recovers brings them through.
func TestWikiImageListEndToEnd(t *testing.T) {
	sim := mediawiki.New(mediawiki.Options{ImLimit: 7}) // small pages of images: continuation happens
	n, hs := startWiki(t, sim, func(doc string) string {
		return strings.Replace(doc, `allowed_hosts: ["`, `max_attempts: 2
        allowed_hosts: ["`, 1)
	})

	data, _ := os.ReadFile("../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson")
	var events [][]byte
	var want []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var e map[string]any
		json.Unmarshal(line, &e)
		e["server_url"] = hs.URL + "/en.wikipedia.org"
		b, _ := json.Marshal(e)
		events = append(events, b)
		if e["type"] == "edit" || e["type"] == "new" {
			if e["namespace"].(float64) == 0 {
				want = append(want, e)
			}
		}
	}
	if _, err := n.Streams.Produce(context.Background(), "wikimedia.recentchange", events); err != nil {
		t.Fatal(err)
	}
	wait := func(inputs uint64) pipeline.Status {
		var s pipeline.Status
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if s, _ = n.Pipelines.Get("wiki_image_list"); s.Position >= inputs && s.LagEvents == 0 {
				return s
			}
		}
		t.Fatalf("pipeline did not reach %d: %+v", inputs, s)
		return s
	}
	s := wait(100)
	out := read(t, n, "wiki.page_images")
	if len(out) != len(want) || s.Processed != uint64(len(want)) || s.Failed != 0 {
		t.Fatalf("%d outputs for %d article edits: %+v", len(out), len(want), s)
	}
	truth := sim.Wiki()
	for i, raw := range out {
		var o struct {
			PageID    string   `json:"page_id"`
			ImageList []string `json:"image_list"`
			Title     string   `json:"title"`
			Missing   bool     `json:"missing"`
		}
		json.Unmarshal(raw, &o)
		title := want[i]["title"].(string)
		if o.Title != title || o.Missing || o.PageID != strconv.FormatInt(mediawiki.PageID("en.wikipedia.org", title), 10) ||
			!slices.Equal(o.ImageList, truth.CurrentImages("en.wikipedia.org", title)) && !(len(o.ImageList) == 0 && len(truth.CurrentImages("en.wikipedia.org", title)) == 0) {
			t.Fatalf("output %d for %q: %s, want images %v", i, title, raw, truth.CurrentImages("en.wikipedia.org", title))
		}
	}
	families, err := n.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	metrics := map[string]bool{}
	for _, f := range families {
		metrics[f.GetName()] = true
	}
	for _, m := range []string{"sluice_pipeline_inputs_total", "sluice_pipeline_outputs_total", "sluice_pipeline_lag_events", "sluice_pipeline_lag_seconds"} {
		if !metrics[m] {
			t.Errorf("no metric %s", m)
		}
	}
	if reqs := sim.Count(); reqs > 40 {
		t.Fatalf("%d API requests for %d events: batching does not work", reqs, len(want))
	}

	// The API fails every request: after its attempts each input is a dead letter.
	sim.SetStatus5xxEvery(1)
	fresh := bytes.Replace(events[0], []byte(`0416300b`), []byte(`aaaaaaaa`), 1)
	if _, err := n.Streams.Produce(context.Background(), "wikimedia.recentchange", [][]byte{fresh}); err != nil {
		t.Fatal(err)
	}
	if s = wait(101); s.Failed != 1 {
		t.Fatalf("after API failures: %+v", s)
	}
	dead := read(t, n, "wiki_image_list.errors")
	var f pipeline.Failure
	if len(dead) != 1 || json.Unmarshal(dead[0], &f) != nil || f.Status != 503 || f.Attempts != 2 || f.Body == "" ||
		f.Function != "mediawiki.page_images" || f.Input.Seq != 101 || len(f.Chain) < 2 {
		t.Fatalf("dead letter: %s", dead)
	}
	// The API recovers; a redrive brings the input through and empties the list.
	sim.SetStatus5xxEvery(0)
	if op := redrive(t, n.Pipelines, "wiki_image_list"); op.State != pipeline.OpSucceeded || op.Progress.Succeeded != 1 {
		t.Fatalf("redrive: %+v", op)
	}
	if dead := read(t, n, "wiki_image_list.errors"); len(dead) != 0 {
		t.Fatalf("dead letters after redrive: %s", dead)
	}
	if out := read(t, n, "wiki.page_images"); len(out) != len(want)+1 {
		t.Fatalf("after redrive: %d outputs", len(out))
	}
}

// startWiki runs a node with the flagship project (benchProject) whose
// function calls sim over loopback; edit may change the config text.
func startWiki(t *testing.T, sim *mediawiki.Server, edit func(doc string) string) (*node.Node, *httptest.Server) {
	t.Helper()
	hs := httptest.NewServer(sim)
	t.Cleanup(func() { sim.Close(); hs.Close() })
	root, _ := filepath.Abs("../..")
	doc := edit(fmt.Sprintf(benchProject, root, hs.Listener.Addr().String()))
	n := startDoc(t, doc, t.TempDir())
	t.Cleanup(func() { stop(t, n) })
	return n, hs
}
