package history

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	wikiimages "github.com/sluice-dev/sluice/examples/wiki-images"
	"github.com/sluice-dev/sluice/internal/wikisim/eventstreams"
	"github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func clock(n int64) time.Time { return t0.Add(time.Duration(n) * time.Second) }

// sim serves the demo's recording, looped, through a History, and the
// simulated MediaWiki API with it as its timeline.
type sim struct {
	recorded [][]byte
	h        *History
	feed     *httptest.Server
	api      *httptest.Server
}

func newSim(t *testing.T) *sim {
	t.Helper()
	evs, err := eventstreams.LoadFS(wikiimages.Recorded(), wikiimages.RecordedFiles...)
	if err != nil {
		t.Fatal(err)
	}
	s := &sim{recorded: evs, h: New(evs, clock)}
	replay := eventstreams.New(evs, eventstreams.Options{Loop: true, Clock: clock, Rewrite: s.h.Rewrite})
	api := mediawiki.New(mediawiki.Options{Timeline: s.h})
	s.feed, s.api = httptest.NewServer(replay), httptest.NewServer(api)
	t.Cleanup(func() { replay.Close(); api.Close(); s.feed.Close(); s.api.Close() })
	return s
}

type event struct {
	Type      string `json:"type"`
	Namespace int    `json:"namespace"`
	Title     string `json:"title"`
	ServerURL string `json:"server_url"`
	Timestamp int64  `json:"timestamp"`
	LogID     int64  `json:"log_id"`
	LogType   string `json:"log_type"`
	Revision  struct {
		Old int64 `json:"old"`
		New int64 `json:"new"`
	} `json:"revision"`
	raw string
}

func (e event) host() string { u, _ := url.Parse(e.ServerURL); return u.Host }

// read reads the first n events of the feed.
func (s *sim) read(t *testing.T, n int) []event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.feed.URL+"/v2/stream/recentchange", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var out []event
	for len(out) < n && sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("event %d: %v: %s", len(out), err, sc.Bytes())
		}
		e.raw = sc.Text()
		out = append(out, e)
	}
	if len(out) < n {
		t.Fatalf("%d events, want %d: %v", len(out), n, sc.Err())
	}
	return out
}

// ask asks the simulated API; it decodes the answer into v.
func (s *sim) ask(t *testing.T, host string, v any, kv ...string) {
	t.Helper()
	q := url.Values{"format": {"json"}, "formatversion": {"2"}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	resp, err := http.Get(s.api.URL + "/" + host + "/w/api.php?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

type parsed struct {
	Parse struct {
		PageID int64    `json:"pageid"`
		Images []string `json:"images"`
	} `json:"parse"`
	Error *struct{ Code string } `json:"error"`
}

// Over 31 loops of the recording: loop 0 is the recording; later loops
// have revision ids of their own (and revision.old the page's previous
// edit's); a page's images, as of each of its
// edits, change at about one edit in three, by one file; some pages are
// deleted (a log event), the deletion log says which page id they had, and
// they come back as new pages.
func TestEvolution(t *testing.T) {
	s := newSim(t)
	l := len(s.recorded)
	evs := s.read(t, (FirstDeletion+1)*l)
	for i, e := range evs[:l] { // but for the times the clock gives
		var rec event
		_ = json.Unmarshal(s.recorded[i], &rec)
		if e.Type != rec.Type || e.Title != rec.Title || e.Revision != rec.Revision {
			t.Fatalf("loop 0 event %d differs from the recording:\n%s\n%s", i, e.raw, s.recorded[i])
		}
	}
	type pageKey struct{ host, title string }
	revs := map[string]map[int64]bool{}
	images := map[pageKey][][]string{} // as of each edit, in order
	last := map[pageKey]int64{}        // the latest revision
	var changed, pairs, deletions int
	for n, e := range evs {
		k := pageKey{e.host(), e.Title}
		switch {
		case e.Type == "log":
			if e.LogType != "delete" || e.LogID <= 0 || e.Namespace != 0 {
				t.Fatalf("event %d: %s", n, e.raw)
			}
			deletions++
			s.checkDeletion(t, evs, n)
			delete(images, k)
		case e.Revision.New > 0:
			if revs[k.host] == nil {
				revs[k.host] = map[int64]bool{}
			}
			if revs[k.host][e.Revision.New] {
				t.Fatalf("event %d: revision %d repeats", n, e.Revision.New)
			}
			revs[k.host][e.Revision.New] = true
			if n >= l && e.Type == "edit" && e.Revision.Old != last[k] {
				t.Fatalf("event %d: revision.old %d, want the page's previous edit %d", n, e.Revision.Old, last[k])
			}
			last[k] = e.Revision.New
			var p parsed
			s.ask(t, k.host, &p, "action", "parse", "prop", "images", "oldid", strconv.FormatInt(e.Revision.New, 10))
			if p.Error != nil || p.Parse.PageID == 0 {
				t.Fatalf("event %d: parse: %+v", n, p)
			}
			if prev := images[k]; len(prev) > 0 && !mediawiki.Imageless(k.host, k.title) {
				last := prev[len(prev)-1]
				pairs++
				if !slices.Equal(last, p.Parse.Images) {
					changed++
					if d := len(last) - len(p.Parse.Images); d != 1 && d != -1 {
						t.Fatalf("event %d: %q then %q: want one file more or fewer", n, last, p.Parse.Images)
					}
				}
			}
			images[k] = append(images[k], p.Parse.Images)
		}
	}
	if share := float64(changed) / float64(pairs); share < 0.25 || share > 0.42 {
		t.Errorf("%d of %d edits changed the images, want about 1 in %d", changed, pairs, ChangeOneIn)
	}
	if deletions == 0 {
		t.Error("no page was deleted")
	}
}

// checkDeletion checks the deletion at evs[n]: the log lists it with the
// id the page had, the page is missing now, and its next edit creates it
// again with another id.
func (s *sim) checkDeletion(t *testing.T, evs []event, n int) {
	t.Helper()
	d := evs[n]
	var before int64
	for _, e := range slices.Backward(evs[:n]) {
		if e.Title == d.Title && e.Revision.New > 0 {
			var p parsed
			s.ask(t, d.host(), &p, "action", "parse", "prop", "images", "oldid", strconv.FormatInt(e.Revision.New, 10))
			before = p.Parse.PageID
			break
		}
	}
	var log struct {
		Query struct {
			LogEvents []struct {
				LogID   int64 `json:"logid"`
				LogPage int64 `json:"logpage"`
			} `json:"logevents"`
		} `json:"query"`
	}
	at := time.Unix(d.Timestamp, 0).UTC()
	s.ask(t, d.host(), &log, "action", "query", "list", "logevents", "letype", "delete", "letitle", d.Title, "leprop", "ids",
		"lestart", at.Add(time.Minute).Format(time.RFC3339), "leend", at.Add(-time.Minute).Format(time.RFC3339))
	if !slices.ContainsFunc(log.Query.LogEvents, func(e struct {
		LogID   int64 `json:"logid"`
		LogPage int64 `json:"logpage"`
	}) bool {
		return e.LogID == d.LogID && e.LogPage == before && before > 0
	}) {
		t.Fatalf("deletion %d of %q (page %d): the log lists %+v", d.LogID, d.Title, before, log.Query.LogEvents)
	}
	for _, e := range evs[n+1:] {
		if e.Title != d.Title {
			continue
		}
		var p parsed
		s.ask(t, d.host(), &p, "action", "parse", "prop", "images", "oldid", strconv.FormatInt(e.Revision.New, 10))
		if e.Type != "new" || e.Revision.Old != 0 || p.Parse.PageID == before || p.Parse.PageID == 0 {
			t.Fatalf("after deletion %d of %q (page %d): %s, page %d", d.LogID, d.Title, before, e.raw, p.Parse.PageID)
		}
		return
	}
}

// action=query answers a page as of its latest edit sent: missing right
// after its deletion.
func TestNowFollowsTheFeed(t *testing.T) {
	s := newSim(t)
	var del *page
	for _, p := range s.h.pages {
		if p.deleteIn > 0 && (del == nil || p.deleteIn < del.deleteIn || p.deleteIn == del.deleteIn && p.ref.title < del.ref.title) {
			del = p
		}
	}
	if del == nil {
		t.Fatal("no page of the recording is ever deleted")
	}
	n := del.offset(position{del.deleteIn, 0}, s.h.l)
	missing := func() bool {
		var q struct {
			Query struct {
				Pages []struct {
					Missing bool `json:"missing"`
				} `json:"pages"`
			} `json:"query"`
		}
		s.ask(t, del.ref.host, &q, "action", "query", "prop", "images", "titles", del.ref.title)
		if len(q.Query.Pages) != 1 {
			t.Fatalf("%q: %+v", del.ref.title, q)
		}
		return q.Query.Pages[0].Missing
	}
	s.h.Rewrite(n-1, nil) // sent: up to just before the deletion
	if missing() {
		t.Fatalf("%q is missing before its deletion", del.ref.title)
	}
	s.h.Rewrite(n, nil)
	if !missing() {
		t.Fatalf("%q is not missing right after its deletion", del.ref.title)
	}
}

// Changing names an article whose images change from loop to loop.
func TestChanging(t *testing.T) {
	s := newSim(t)
	p, ok := s.h.Changing()
	if !ok || p.Wiki != "enwiki" || p.ID != mediawiki.PageID(p.Host, p.Title) {
		t.Fatalf("%+v %v", p, ok)
	}
	seen := map[string]bool{}
	for k := range int64(6) {
		pos := position{k, 0}
		_, st, ok := s.h.Revision(p.Host, s.h.wikis[p.Host].rev(s.h.evs[s.h.pages[pageRef{p.Host, p.Title}].at[0]].new, k))
		if !ok || st.Deleted || st.Gen != 0 {
			t.Fatalf("%+v at %+v: %+v %v", p, pos, st, ok)
		}
		seen[strings.Join(mediawiki.Images(p.Host, p.Title, st.Step), "|")] = true
	}
	if len(seen) < 2 {
		t.Fatalf("%+v: the same images over 6 loops", p)
	}
}

// A deleted page is deleted again every DeletionPeriod loops, each time
// created again as the next generation.
func TestDeletionLoops(t *testing.T) {
	p := &page{deleteIn: 5, at: []int64{7}}
	for _, c := range []struct {
		k       int64
		deleted bool
		gen     int
	}{{4, false, 0}, {5, true, 0}, {6, false, 1}, {5 + DeletionPeriod, true, 1}, {6 + DeletionPeriod, false, 2}} {
		st := p.state(position{c.k, 0}, 1)
		if p.deletionLoop(c.k) != c.deleted || st.Deleted != c.deleted || st.Gen != c.gen {
			t.Errorf("loop %d: %+v, want deleted %v, generation %d", c.k, st, c.deleted, c.gen)
		}
	}
}
