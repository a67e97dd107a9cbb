package mediawiki

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"
)

// fakeTimeline is a page edited three times: revision 101 at step 1, 102
// at step 1 (no change of images), 103 at step 2; then deleted, and
// created again as another page.
type fakeTimeline struct{ now State }

var deletedAt = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func (f *fakeTimeline) Revision(host string, rev int64) (string, State, bool) {
	if host != en || rev < 101 || rev > 103 {
		return "", State{}, false
	}
	return "Changing page", State{Rev: rev, Step: max(rev-101, 1)}, true
}

func (f *fakeTimeline) Now(host, title string) (State, bool) {
	return f.now, host == en && title == "Changing page"
}

func (f *fakeTimeline) Deletions(host, title string) []Deletion {
	if host != en || title != "Changing page" || f.now.Gen == 0 && !f.now.Deleted {
		return nil
	}
	return []Deletion{{LogID: 77, Gen: 0, At: deletedAt}}
}

// With a Timeline, parse answers a revision as of itself, prop=images the
// page now (missing while deleted, another id once created again), and
// the deletion log lists the timeline's deletions.
func TestTimeline(t *testing.T) {
	tl := &fakeTimeline{now: State{Rev: 103, Step: 2}}
	_, ts := start(t, Options{Timeline: tl})
	parse := func(rev int64) (int64, []string) {
		t.Helper()
		a := do(t, ts, http.MethodGet, en, "", params("action", "parse", "prop", "images", "oldid", strconv.FormatInt(rev, 10)))
		var r parseResponse
		if err := json.Unmarshal(a.body, &r); err != nil || r.Parse.Title != "Changing page" {
			t.Fatalf("parse %d: %s %v", rev, a.body, err)
		}
		return r.Parse.PageID, r.Parse.Images
	}
	id, first := parse(101)
	_, second := parse(102)
	_, third := parse(103)
	if id != PageID(en, "Changing page") || !slices.Equal(first, second) || len(first) == len(third) {
		t.Fatalf("id %d, images %q, %q, %q: want the same twice, then one more or fewer", id, first, second, third)
	}
	query := func() queryPageOut {
		t.Helper()
		a := do(t, ts, http.MethodGet, en, "", params("action", "query", "prop", "images", "titles", "Changing page"))
		var r struct {
			Query struct{ Pages []queryPageOut }
		}
		if err := json.Unmarshal(a.body, &r); err != nil || len(r.Query.Pages) != 1 {
			t.Fatalf("query: %s %v", a.body, err)
		}
		return r.Query.Pages[0]
	}
	if p := query(); p.PageID != id || len(p.Images) != len(third) {
		t.Fatalf("now: %+v, want id %d and %q", p, id, third)
	}

	tl.now = State{Rev: 103, Step: 2, Deleted: true}
	if p := query(); !p.Missing {
		t.Fatalf("deleted: %+v", p)
	}
	a := do(t, ts, http.MethodGet, en, "", params("action", "query", "list", "logevents", "letype", "delete", "letitle", "Changing page"))
	want := `{"batchcomplete":true,"query":{"logevents":[{"logid":77,"ns":0,"title":"Changing page","pageid":0,"logpage":` +
		strconv.FormatInt(id, 10) + `,"type":"delete","action":"delete","timestamp":"2026-11-27T10:00:00Z"}]}}`
	if got := string(a.body); got != want {
		t.Fatalf("log: %s\nwant %s", got, want)
	}

	tl.now = State{Rev: 104, Step: 2, Gen: 1}
	if p := query(); p.Missing || p.PageID != PageIDGen(en, "Changing page", 1) || p.PageID == id {
		t.Fatalf("created again: %+v", p)
	}
	// A revision from before the deletion still answers as of itself.
	if old, _ := parse(101); old != id {
		t.Fatalf("revision 101 after the deletion: page %d, want %d", old, id)
	}
}

type queryPageOut struct {
	PageID  int64 `json:"pageid"`
	Missing bool  `json:"missing"`
	Images  []struct {
		Title string `json:"title"`
	} `json:"images"`
}
