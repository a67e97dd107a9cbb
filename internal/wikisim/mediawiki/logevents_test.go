package mediawiki

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// list=logevents answers a title's deletions newest first, in the key order
// of MediaWiki's ApiQueryLogEvents, with the deleted page's id as logpage
// and the page now at the title (0 if none) as pageid.
func TestLogEvents(t *testing.T) {
	s, ts := start(t, Options{})
	w := s.Wiki()
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	first := w.Delete(en, "Gone page", 11, t0)
	w.SetMissing(en, "Gone page", false) // created again: another page
	second := w.Delete(en, "Gone_page", 12, t0.Add(time.Hour))
	w.Delete(de, "Gone page", 13, t0) // another wiki's log
	if first != PageID(en, "Gone page") || second == first {
		t.Fatalf("deleted ids %d and %d, want %d and another", first, second, PageID(en, "Gone page"))
	}
	id := func(n int64) string { return strconv.FormatInt(n, 10) }

	a := do(t, ts, http.MethodGet, en, "", params("action", "query", "list", "logevents", "letype", "delete",
		"letitle", "gone_page", "maxlag", "5"))
	want := `{"batchcomplete":true,"query":{"logevents":[` +
		`{"logid":12,"ns":0,"title":"Gone page","pageid":0,"logpage":` + id(second) + `,"type":"delete","action":"delete","timestamp":"2026-11-27T11:00:00Z"},` +
		`{"logid":11,"ns":0,"title":"Gone page","pageid":0,"logpage":` + id(first) + `,"type":"delete","action":"delete","timestamp":"2026-11-27T10:00:00Z"}]}}`
	if a.status != 200 || strings.TrimSpace(string(a.body)) != want {
		t.Fatalf("%d %s\nwant %s", a.status, a.body, want)
	}

	// Created a third time: pageid is that page, which action=query reports
	// too. leprop=ids only; lelimit cuts the list and gives a continuation.
	w.SetMissing(en, "Gone page", false)
	a = do(t, ts, http.MethodGet, en, "", params("action", "query", "prop", "images", "titles", "Gone page"))
	third, _, _ := strings.Cut(strings.SplitN(string(a.body), `"pageid":`, 2)[1], ",")
	if third == id(first) || third == id(second) {
		t.Fatalf("the page created again has an old id: %s", a.body)
	}
	a = do(t, ts, http.MethodGet, en, "", params("action", "query", "list", "logevents", "letype", "delete",
		"letitle", "Gone page", "leprop", "ids", "lelimit", "1"))
	want = `{"continue":{"lecontinue":"20261127100000|11","continue":"-||"},"query":{"logevents":[` +
		`{"logid":12,"pageid":` + third + `,"logpage":` + id(second) + `}]}}`
	if a.status != 200 || strings.TrimSpace(string(a.body)) != want {
		t.Fatalf("%d %s\nwant %s", a.status, a.body, want)
	}

	// No deletion: an empty list.
	a = do(t, ts, http.MethodGet, en, "", params("action", "query", "list", "logevents", "letype", "delete", "letitle", "Never deleted"))
	if want := `{"batchcomplete":true,"query":{"logevents":[]}}`; strings.TrimSpace(string(a.body)) != want {
		t.Fatalf("%s", a.body)
	}

	// lestart and leend bound the entries' times (newest first: lestart is
	// the later bound).
	a = do(t, ts, http.MethodGet, en, "", params("action", "query", "list", "logevents", "letype", "delete",
		"letitle", "Gone page", "leprop", "ids", "lestart", "2026-11-27T10:30:00Z", "leend", strconv.FormatInt(t0.Add(-time.Minute).Unix(), 10)))
	if want := `{"batchcomplete":true,"query":{"logevents":[{"logid":11,"pageid":` + third + `,"logpage":` + id(first) + `}]}}`; strings.TrimSpace(string(a.body)) != want {
		t.Fatalf("%s\nwant %s", a.body, want)
	}
	a = do(t, ts, http.MethodGet, en, "", params("action", "query", "list", "logevents", "letype", "delete", "letitle", "X", "lestart", "yesterday"))
	if !strings.Contains(string(a.body), `"code":"badtimestamp_lestart"`) {
		t.Errorf("bad lestart: %s", a.body)
	}

	// What is not simulated is refused, not answered differently.
	for _, p := range [][]string{
		{"letype", "move", "letitle", "X"},
		{"letype", "delete"},
		{"letype", "delete", "letitle", "X", "leprop", "ids|user"},
		{"letype", "delete", "letitle", "X", "lecontinue", "20261127100000|11"},
	} {
		a := do(t, ts, http.MethodGet, en, "", params(append([]string{"action", "query", "list", "logevents"}, p...)...))
		if a.status != http.StatusBadRequest || !strings.Contains(string(a.body), "mediawiki simulator:") {
			t.Errorf("%v: %d %s", p, a.status, a.body)
		}
	}
	a = do(t, ts, http.MethodGet, en, "", params("action", "query", "list", "logevents", "letype", "delete", "letitle", "Bad[title"))
	if !strings.Contains(string(a.body), `"code":"invalidtitle"`) {
		t.Errorf("bad title: %s", a.body)
	}
	a = do(t, ts, http.MethodGet, en, "", params("action", "query", "list", "logevents", "letype", "delete", "letitle", "X", "lelimit", "many"))
	if !strings.Contains(string(a.body), `"code":"badinteger"`) {
		t.Errorf("bad lelimit: %s", a.body)
	}
}
