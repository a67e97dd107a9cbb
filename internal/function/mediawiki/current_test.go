package mediawiki

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	sim "github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

var (
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
)

// The recorded enwiki events give the simulator's truth, in 2 requests for
// their 87 distinct titles.
func TestRecordedCurrent(t *testing.T) {
	e := start(t, sim.Options{})
	f := newFunc(t, e, nil)
	events := loadRecorded(t, e)
	before := time.Now()
	outs := outputs(t, call(t, context.Background(), f, events))
	after := time.Now()
	w := e.sim.Wiki()
	titles := map[string]bool{}
	for i, o := range outs {
		ev := events[i]
		meta := ev["meta"].(map[string]any)
		title := ev["title"].(string)
		titles[title] = true
		rev := int64(ev["revision"].(map[string]any)["new"].(float64))
		if o.PageID != itoa(sim.PageID(en, title)) || o.Missing {
			t.Errorf("%q: page_id %q missing %v, want %d", title, o.PageID, o.Missing, sim.PageID(en, title))
		}
		if want := wantImages(w.CurrentImages(en, title)); !slices.Equal(o.ImageList, want) {
			t.Errorf("%q: images %q, want %q", title, o.ImageList, want)
		}
		if o.Wiki != "enwiki" || o.Domain != "127.0.0.1" || o.Title != title || o.RevID == nil || *o.RevID != rev ||
			o.EventTime != meta["dt"] || o.Meta.DT != meta["dt"] || o.Meta.Stream != "wiki.page_images" {
			t.Errorf("event %d: %+v", i, o)
		}
		if !uuidRE.MatchString(o.Meta.ID) || o.Meta.ID != OutputID(meta["id"].(string)) || o.Meta.ID == meta["id"] {
			t.Errorf("event %d: meta.id %q", i, o.Meta.ID)
		}
		at, err := time.Parse(time.RFC3339Nano, o.CreateDateTime)
		if !timeRE.MatchString(o.CreateDateTime) || err != nil || at.Before(before.Truncate(time.Microsecond)) || at.After(after) {
			t.Errorf("event %d: create_date_time %q", i, o.CreateDateTime)
		}
	}
	reqs := e.requests(en)
	sent := 0
	for _, r := range reqs {
		if r.Action != "query" || !r.Maxlag || !r.Redirects || r.UserAgent != userAgent || r.Status != 200 || r.Error != "" {
			t.Errorf("request %+v", r)
		}
		sent += len(r.Titles)
	}
	if len(titles) != 87 || len(reqs) != 2 || sent != 87 {
		t.Fatalf("%d distinct titles: %d requests with %d titles, want 2 with 87", len(titles), len(reqs), sent)
	}
	// The same events give the same meta ids.
	again := outputs(t, call(t, context.Background(), f, events[:3]))
	for i := range again {
		if again[i].Meta.ID != outs[i].Meta.ID {
			t.Fatalf("meta.id not deterministic: %q then %q", outs[i].Meta.ID, again[i].Meta.ID)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestBatching(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size      int
		titles    []string
		requests  int
		distinct  int
		wantBatch int // most titles in one request
	}{
		{"100 distinct, batches of 50", 50, titlesN("Page", 100), 2, 100, 50},
		{"100 distinct, batches of 10", 10, titlesN("Page", 100), 10, 100, 10},
		{"25 titles four times each", 50, slices.Concat(titlesN("Page", 25), titlesN("Page", 25), titlesN("Page", 25), titlesN("Page", 25)), 1, 25, 25},
		{"one title", 50, []string{"Lonely"}, 1, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, sim.Options{})
			f := newFunc(t, e, map[string]any{"batch_size": tc.size})
			outs := outputs(t, call(t, context.Background(), f, edits(e, en, tc.titles...)))
			for i, o := range outs {
				if o.Title != tc.titles[i] || o.PageID != itoa(sim.PageID(en, tc.titles[i])) {
					t.Fatalf("event %d: %+v", i, o)
				}
			}
			reqs := e.requests(en)
			seen := map[string]bool{}
			most := 0
			for _, r := range reqs {
				most = max(most, len(r.Titles))
				for _, title := range r.Titles {
					if seen[title] {
						t.Errorf("%q asked twice", title)
					}
					seen[title] = true
				}
			}
			if len(reqs) != tc.requests || len(seen) != tc.distinct || most != tc.wantBatch {
				t.Fatalf("%d requests, %d titles, at most %d in one; want %d, %d, %d",
					len(reqs), len(seen), most, tc.requests, tc.distinct, tc.wantBatch)
			}
		})
	}
}

// With few images per answer, continuation still gives complete lists.
func TestContinuation(t *testing.T) {
	e := start(t, sim.Options{ImLimit: 3})
	f := newFunc(t, e, nil)
	events := loadRecorded(t, e)
	outs := outputs(t, call(t, context.Background(), f, events))
	for i, o := range outs {
		if want := wantImages(e.sim.Wiki().CurrentImages(en, o.Title)); !slices.Equal(o.ImageList, want) {
			t.Errorf("event %d %q: images %q, want %q", i, o.Title, o.ImageList, want)
		}
	}
	reqs := e.requests(en)
	continued := 0
	for _, r := range reqs {
		if r.IMContinue != "" {
			continued++
		}
	}
	if continued < 50 || len(reqs) != continued+2 {
		t.Fatalf("%d requests, %d continued", len(reqs), continued)
	}
}

// Normalized titles and redirects map back to the event's title; missing
// pages are missing.
func TestRedirectsNormalizationMissing(t *testing.T) {
	e := start(t, sim.Options{
		Redirects: map[sim.PageRef]string{{Host: en, Title: "Alias"}: "Target page"},
		Missing:   []sim.PageRef{{Host: en, Title: "Deleted page"}},
	})
	f := newFunc(t, e, nil)
	cases := []struct{ title, page string }{ // page "" means missing
		{"Redirect to Harbour town", "Harbour town"},
		{"redirect_to_Old bridge", "Old bridge"},
		{"lower case title", "Lower case title"},
		{"Lower case title", "Lower case title"},
		{"Alias", "Target page"},
		{"alias", "Target page"},
		{"Missing page", ""},
		{"Deleted page", ""},
		{"Redirect to Missing target", ""},
		{"Talk:some_talk", "Talk:Some talk"},
	}
	var titles []string
	for _, c := range cases {
		titles = append(titles, c.title)
	}
	outs := outputs(t, call(t, context.Background(), f, edits(e, en, titles...)))
	for i, c := range cases {
		o := outs[i]
		if o.Title != c.title {
			t.Errorf("%q: title %q", c.title, o.Title)
		}
		if c.page == "" {
			if !o.Missing || o.PageID != "" || o.ImageList == nil || len(o.ImageList) != 0 {
				t.Errorf("%q: want missing, got %+v", c.title, o)
			}
			continue
		}
		want := wantImages(e.sim.Wiki().CurrentImages(en, c.page))
		if o.Missing || o.PageID != itoa(sim.PageID(en, c.page)) || !slices.Equal(o.ImageList, want) {
			t.Errorf("%q: got %+v, want page %q (%d) with %q", c.title, o, c.page, sim.PageID(en, c.page), want)
		}
	}
	if n := len(e.requests(en)); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

// An invalid title fails its event only.
func TestInvalidTitle(t *testing.T) {
	e := start(t, sim.Options{})
	f := newFunc(t, e, nil)
	res := call(t, context.Background(), f, edits(e, en, "Good page", "Bad<title", "A|B"))
	if res[0].Err != nil || len(res[0].Outputs) != 1 {
		t.Fatalf("good page: %+v", res[0])
	}
	for _, r := range res[1:] {
		if r.Err == nil || !strings.Contains(r.Err.Error(), "invalid title") || len(r.Outputs) != 0 {
			t.Fatalf("bad title: %+v", r)
		}
	}
}
