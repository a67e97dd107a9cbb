package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/table"
	"github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// TestWikiImageListIntoTable: the recorded events through the flagship
// pipeline into a temporal table keyed <wiki>:<page_id> and versioned by
// the edit's time; each page has one version per edit, and the version at
// an edit's time is that edit's output. Running the pipeline again from
// the start adds no version.
func TestWikiImageListIntoTable(t *testing.T) {
	sim := mediawiki.New(mediawiki.Options{})
	n, hs := startWiki(t, sim, func(doc string) string {
		doc = strings.Replace(doc, "      - stream: wiki.page_images\n", "      - stream: wiki.page_images\n      - table: page_images\n", 1)
		return doc + `
tables:
  page_images:
    key: 'event.wiki + ":" + event.page_id'
    time: /event_time
    delete_when: 'event.missing'
`
	})
	data, _ := os.ReadFile("../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson")
	var events [][]byte
	edits := map[string][]time.Time{} // key -> edit times
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var e map[string]any
		json.Unmarshal(line, &e)
		e["server_url"] = hs.URL + "/en.wikipedia.org"
		b, _ := json.Marshal(e)
		events = append(events, b)
		if (e["type"] == "edit" || e["type"] == "new") && e["namespace"].(float64) == 0 {
			key := "enwiki:" + strconv.FormatInt(mediawiki.PageID("en.wikipedia.org", e["title"].(string)), 10)
			dt, _ := time.Parse(time.RFC3339, e["meta"].(map[string]any)["dt"].(string))
			edits[key] = append(edits[key], dt)
		}
	}
	if _, err := n.Streams.Produce(context.Background(), "wikimedia.recentchange", events); err != nil {
		t.Fatal(err)
	}
	waitAll := func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if s, _ := n.Pipelines.Get("wiki_image_list"); s.Position >= 100 && s.LagEvents == 0 {
				return
			}
		}
		t.Fatal("pipeline did not finish")
	}
	check := func() {
		t.Helper()
		repeated := 0
		for key, times := range edits {
			h, err := n.Tables.History(context.Background(), "page_images", key, time.Unix(0, 0), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			distinct := map[time.Time]bool{}
			for _, tm := range times {
				distinct[tm] = true
			}
			if len(h) != len(distinct) {
				t.Fatalf("%s: %d versions for %d edits", key, len(h), len(distinct))
			}
			if len(h) > 1 {
				repeated++
			}
			v, err := n.Tables.Get(context.Background(), "page_images", key, times[0])
			if err != nil || !v.ValidFrom.Equal(times[0]) || !strings.Contains(string(v.Value), `"page_id":"`+strings.TrimPrefix(key, "enwiki:")+`"`) {
				t.Fatalf("%s at %s: %+v %v", key, times[0], v, err)
			}
		}
		if repeated == 0 {
			t.Fatal("no page was edited twice: the test shows nothing about history")
		}
	}
	waitAll()
	check()
	snapshot := func() string {
		var b strings.Builder
		for _, key := range slices.Sorted(maps.Keys(edits)) {
			h, _ := n.Tables.History(context.Background(), "page_images", key, time.Unix(0, 0), time.Now())
			for _, v := range h {
				fmt.Fprintf(&b, "%s %s %s %d %s\n", v.Key, v.ValidFrom, v.Stream, v.Seq, v.Value)
			}
		}
		return b.String()
	}
	before := snapshot()
	// A rebuild from the output stream gives the very same versions.
	if op := rebuild(t, n.Pipelines, "page_images"); op.State != pipeline.OpSucceeded || op.Progress.Succeeded == 0 {
		t.Fatalf("rebuild: %+v", op)
	}
	if after := snapshot(); after != before {
		t.Fatalf("the rebuilt table differs:\nbefore\n%s\nafter\n%s", before, after)
	}
	// From the start again: the same versions, none added.
	if _, err := n.Pipelines.Reset(context.Background(), "wiki_image_list", mustPos(t, "earliest")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	waitAll()
	check()
}

// TestRevisionHistoryInTable: in revision mode each edit's version holds
// the images of exactly the edited revision, as the simulated wiki knows them.
func TestRevisionHistoryInTable(t *testing.T) {
	sim := mediawiki.New(mediawiki.Options{})
	n, hs := startWiki(t, sim, func(doc string) string {
		doc = strings.Replace(doc, "        user_agent:", "        mode: revision\n        user_agent:", 1)
		doc = strings.Replace(doc, "      - stream: wiki.page_images\n", "      - stream: wiki.page_images\n      - table: page_images\n", 1)
		return doc + "\ntables:\n  page_images:\n    key: 'event.wiki + \":\" + event.title'\n    time: /event_time\n"
	})
	// One page edited five times: five revisions, five versions.
	sim.Wiki().AddRevisions("en.wikipedia.org", "Douglas Adams", 5000, 5001, 5002, 5003, 5004)
	var events [][]byte
	base := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for i := range 5 {
		events = append(events, fmt.Appendf(nil, `{"$schema":"/mediawiki/recentchange/1.0.0","meta":{"id":"rev-%d","dt":%q,"stream":"mediawiki.recentchange"},"type":"edit","namespace":0,"title":"Douglas Adams","wiki":"enwiki","server_url":"%s/en.wikipedia.org","server_script_path":"/w","revision":{"old":%d,"new":%d}}`,
			i, base.Add(time.Duration(i)*time.Hour).Format(time.RFC3339), hs.URL, 5000+i-1, 5000+i))
	}
	if _, err := n.Streams.Produce(context.Background(), "wikimedia.recentchange", events); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s, _ := n.Pipelines.Get("wiki_image_list"); s.Position >= 5 && s.LagEvents == 0 {
			break
		}
	}
	h, err := n.Tables.History(context.Background(), "page_images", "enwiki:Douglas Adams", time.Unix(0, 0), time.Now())
	if err != nil || len(h) != 5 {
		t.Fatalf("history: %d versions, %v", len(h), err)
	}
	changes := 0
	for i, v := range h {
		var o struct {
			ImageList []string `json:"image_list"`
		}
		json.Unmarshal(v.Value, &o)
		want := mediawiki.Images("en.wikipedia.org", "Douglas Adams", int64(5000+i))
		if strings.Join(o.ImageList, "|") != strings.Join(want, "|") {
			t.Fatalf("version %d: %v, want the images of revision %d: %v", i, o.ImageList, 5000+i, want)
		}
		if i > 0 && !v.ValidFrom.Equal(*h[i-1].ValidTo) {
			t.Fatalf("version %d does not start where %d ends", i, i-1)
		}
		if i > 0 {
			var prev struct {
				ImageList []string `json:"image_list"`
			}
			json.Unmarshal(h[i-1].Value, &prev)
			if strings.Join(prev.ImageList, "|") != strings.Join(o.ImageList, "|") {
				changes++
			}
		}
	}
	if changes == 0 {
		t.Fatal("the images never changed between revisions: the test shows nothing")
	}
}

// TestDeletedPageInTable: the example project's table (its key and
// delete_when) and filter over an edit of a page and then its deletion:
// the page's images from the edit, a deletion from the deletion's time on,
// under the id the page had, which the function found in the deletion log.
func TestDeletedPageInTable(t *testing.T) {
	ex, err := config.Load("../../examples/wiki-images/sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tb, where := ex.Tables["page_images"], ex.Pipelines["wiki_image_list"].Where
	if tb.DeleteWhen == "" {
		t.Fatal("the example's table keeps no deletions")
	}
	sim := mediawiki.New(mediawiki.Options{})
	n, hs := startWiki(t, sim, func(doc string) string {
		doc = strings.Replace(doc, `    where: 'event.type in ["edit", "new"] && event.namespace == 0'`, "    where: "+strconv.Quote(where), 1)
		doc = strings.Replace(doc, "      - stream: wiki.page_images\n", "      - stream: wiki.page_images\n      - table: page_images\n", 1)
		return doc + fmt.Sprintf("tables:\n  page_images:\n    key: %s\n    time: %s\n    delete_when: %s\n",
			strconv.Quote(tb.Key), tb.Time, strconv.Quote(tb.DeleteWhen))
	})
	const host, title = "en.wikipedia.org", "Doomed page"
	if mediawiki.Imageless(host, title) {
		t.Fatal("pick a title with images")
	}
	key := "enwiki:" + strconv.FormatInt(mediawiki.PageID(host, title), 10)
	edited := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	deleted := edited.Add(time.Hour)
	produce := func(ev string, pos uint64) {
		t.Helper()
		if _, err := n.Streams.Produce(context.Background(), "wikimedia.recentchange", [][]byte{[]byte(ev)}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if s, _ := n.Pipelines.Get("wiki_image_list"); s.Position >= pos && s.LagEvents == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the pipeline did not take the event")
			}
		}
	}
	produce(fmt.Sprintf(`{"$schema":"/mediawiki/recentchange/1.0.0","meta":{"id":"edit-1","dt":%q,"stream":"mediawiki.recentchange"},"type":"edit","namespace":0,"title":%q,"wiki":"enwiki","server_url":"%s/%s","server_script_path":"/w","revision":{"old":1,"new":2}}`,
		edited.Format(time.RFC3339), title, hs.URL, host), 1)
	// The page is deleted (the simulated wiki's log keeps its id), then the feed says so.
	sim.Wiki().Delete(host, title, 4242, deleted)
	produce(fmt.Sprintf(`{"$schema":"/mediawiki/recentchange/1.0.0","meta":{"id":"delete-1","dt":%q,"stream":"mediawiki.recentchange"},"type":"log","namespace":0,"title":%q,"wiki":"enwiki","server_url":"%s/%s","server_script_path":"/w","log_id":4242,"log_type":"delete","log_action":"delete","timestamp":%d}`,
		deleted.Format(time.RFC3339), title, hs.URL, host, deleted.Unix()), 2)

	ctx := context.Background()
	v, err := n.Tables.Get(ctx, "page_images", key, deleted.Add(-time.Second))
	if err != nil || v.ValidTo == nil || !v.ValidTo.Equal(deleted) || !strings.Contains(string(v.Value), `"image_list":["File:`) {
		t.Fatalf("before the deletion: %+v %v", v, err)
	}
	if _, err := n.Tables.Get(ctx, "page_images", key, deleted); !errors.Is(err, table.ErrNotFound) || !strings.Contains(err.Error(), "deleted") {
		t.Fatalf("at the deletion: %v", err)
	}
	h, err := n.Tables.History(ctx, "page_images", key, time.Unix(0, 0), deleted.Add(time.Hour))
	if err != nil || len(h) != 2 || h[0].Deleted || !h[1].Deleted || !h[1].ValidFrom.Equal(deleted) {
		t.Fatalf("history: %+v %v", h, err)
	}
}
