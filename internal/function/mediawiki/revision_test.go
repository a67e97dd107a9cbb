package mediawiki

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	sim "github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// In mode revision the recorded events give Images(host, title, rev), one
// request per distinct revision.
func TestRecordedRevision(t *testing.T) {
	e := start(t, sim.Options{})
	f := newFunc(t, e, map[string]any{"mode": "revision"})
	events := loadRecorded(t, e)
	revs := map[int64]bool{}
	for _, ev := range events {
		rev := int64(ev["revision"].(map[string]any)["new"].(float64))
		revs[rev] = true
		e.sim.Wiki().AddRevisions(en, ev["title"].(string), rev)
	}
	outs := outputs(t, call(t, context.Background(), f, events))
	for i, o := range outs {
		ev := events[i]
		title := ev["title"].(string)
		rev := int64(ev["revision"].(map[string]any)["new"].(float64))
		want := wantImages(sim.Images(en, title, rev))
		if o.Missing || o.PageID != itoa(sim.PageID(en, title)) || !slices.Equal(o.ImageList, want) ||
			o.Title != title || o.RevID == nil || *o.RevID != rev {
			t.Errorf("event %d: got %+v, want %q", i, o, want)
		}
	}
	reqs := e.requests(en)
	asked := map[string]bool{}
	for _, r := range reqs {
		if r.Action != "parse" || !r.Maxlag || r.UserAgent != userAgent || r.Status != 200 || r.Error != "" {
			t.Errorf("request %+v", r)
		}
		asked[r.OldID] = true
	}
	if len(reqs) != len(revs) || len(asked) != len(revs) {
		t.Fatalf("%d requests for %d revisions (%d distinct asked)", len(reqs), len(revs), len(asked))
	}
	// Names with underscores come back with spaces and "File:".
	for _, o := range outs {
		for _, im := range o.ImageList {
			if !strings.HasPrefix(im, "File:") || strings.Contains(im, "_") {
				t.Fatalf("image name %q", im)
			}
		}
	}
}

// A revision that does not exist, or of a page that does not, is missing;
// an event without revision.new fails.
func TestRevisionMissing(t *testing.T) {
	e := start(t, sim.Options{MissingRevisions: []int64{777}})
	e.sim.Wiki().AddRevisions(en, "Missing page", 778)
	e.sim.Wiki().AddRevisions(en, "Some page", 779)
	f := newFunc(t, e, map[string]any{"mode": "revision"})
	noRev := edit(e, en, "Some page", 1)
	delete(noRev, "revision")
	res := call(t, context.Background(), f, []map[string]any{
		edit(e, en, "Gone", 777), edit(e, en, "Missing page", 778), edit(e, en, "Some page", 779), noRev,
	})
	outs := outputs(t, res[:3])
	for i, o := range outs[:2] {
		if !o.Missing || o.PageID != "" || len(o.ImageList) != 0 || o.RevID == nil {
			t.Errorf("event %d: want missing, got %+v", i, o)
		}
	}
	if o := outs[2]; o.Missing || o.PageID != itoa(sim.PageID(en, "Some page")) || !slices.Equal(o.ImageList, wantImages(sim.Images(en, "Some page", 779))) {
		t.Errorf("existing revision: %+v", o)
	}
	if err := res[3].Err; err == nil || !strings.Contains(err.Error(), "revision.new: required") {
		t.Fatalf("no revision: %v", err)
	}
	var codes []string
	for _, r := range e.requests(en) {
		codes = append(codes, r.OldID+":"+r.Error)
	}
	slices.Sort(codes)
	if want := []string{"777:nosuchrevid", "778:missingtitle", "779:"}; !slices.Equal(codes, want) {
		t.Fatalf("requests %q, want %q", codes, want)
	}
}

// The same revision twice in a call is asked once.
func TestRevisionRepeated(t *testing.T) {
	e := start(t, sim.Options{})
	f := newFunc(t, e, map[string]any{"mode": "revision"})
	e.sim.Wiki().AddRevisions(en, "Twice", 4242)
	outs := outputs(t, call(t, context.Background(), f, []map[string]any{edit(e, en, "Twice", 4242), edit(e, en, "Twice", 4242)}))
	if outs[0].PageID != outs[1].PageID || len(e.requests(en)) != 1 {
		t.Fatalf("%+v, %d requests", outs, len(e.requests(en)))
	}
	if outs[0].PageID != strconv.FormatInt(sim.PageID(en, "Twice"), 10) {
		t.Fatalf("%+v", outs[0])
	}
}
