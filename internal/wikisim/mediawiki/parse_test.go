package mediawiki

import (
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
)

type parseResult struct {
	Parse *struct {
		Title  string   `json:"title"`
		PageID int64    `json:"pageid"`
		RevID  int64    `json:"revid"`
		Images []string `json:"images"`
	} `json:"parse"`
	Error *apiError `json:"error"`
}

func parseRev(t *testing.T, ts *httptest.Server, host string, rev int64) (parseResult, answer) {
	t.Helper()
	a := get(t, ts, host, params("action", "parse", "prop", "images", "oldid", strconv.FormatInt(rev, 10)))
	return decode[parseResult](t, a.body), a
}

// fileNames is Images as action=parse names them.
func fileNames(imgs []string) []string {
	out := []string{}
	for _, f := range imgs {
		out = append(out, strings.ReplaceAll(strings.TrimPrefix(f, "File:"), " ", "_"))
	}
	return out
}

func TestParseRevisions(t *testing.T) {
	s, ts := start(t, Options{})
	title := titleWhere(t, en, "History page", func(n int) bool { return n > 0 })
	s.Wiki().AddRevisions(en, title, 500, 501, 502)
	s.Wiki().SetLatestRevision(en, title, 503)
	var prev []string
	for rev := int64(500); rev <= 503; rev++ {
		r, a := parseRev(t, ts, en, rev)
		p := r.Parse
		if p == nil || p.Title != title || p.PageID != PageID(en, title) || p.RevID != rev {
			t.Fatalf("rev %d: %s", rev, a.body)
		}
		if want := fileNames(Images(en, title, rev)); !slices.Equal(p.Images, want) {
			t.Fatalf("rev %d: images %q, want %q", rev, p.Images, want)
		}
		if prev != nil && len(symDiff(prev, p.Images)) != 1 {
			t.Fatalf("rev %d: %q after %q, want one file added or removed", rev, p.Images, prev)
		}
		prev = p.Images
	}
	// The latest revision's images are what prop=images answers.
	q, _ := query(t, ts, en, title)
	if got := fileNames(imageNames(q.Query.Pages[0].Images)); !slices.Equal(got, prev) {
		t.Fatalf("query %q, parse of the latest %q", got, prev)
	}
	// A default latest revision is known once reported.
	other := titleWhere(t, de, "Other page", func(n int) bool { return n > 0 })
	query(t, ts, de, other)
	if r, _ := parseRev(t, ts, de, DefaultLatestRevision(de, other)); r.Parse == nil || r.Parse.Title != other {
		t.Fatalf("default latest revision: %+v", r.Parse)
	}
}

func TestParseShape(t *testing.T) {
	_, ts := start(t, Options{})
	title := titleWhere(t, en, "Shape page", func(n int) bool { return n == 0 })
	_, a := parseRev(t, ts, en, 0)
	apiErr(t, a, "nosuchrevid")
	query(t, ts, en, title)
	rev := DefaultLatestRevision(en, title)
	_, a = parseRev(t, ts, en, rev)
	want := `{"parse":{"title":"` + title + `","pageid":` + strconv.FormatInt(PageID(en, title), 10) +
		`,"revid":` + strconv.FormatInt(rev, 10) + `,"images":[]}}`
	if string(a.body) != want {
		t.Fatalf("body %s\nwant %s", a.body, want)
	}
}

func TestParseErrors(t *testing.T) {
	s, ts := start(t, Options{MissingRevisions: []int64{66}})
	for _, rev := range []int64{0, -5, 66} {
		_, a := parseRev(t, ts, en, rev)
		if e := apiErr(t, a, "nosuchrevid"); e.Info != "There is no revision with ID "+strconv.FormatInt(rev, 10)+"." {
			t.Fatalf("info %q", e.Info)
		}
	}
	s.Wiki().SetRevisionMissing(67, true)
	_, a := parseRev(t, ts, en, 67)
	apiErr(t, a, "nosuchrevid")
	s.Wiki().SetRevisionMissing(67, false)
	if r, _ := parseRev(t, ts, en, 67); r.Parse == nil || r.Parse.Title != "Revision 67" {
		t.Fatalf("unregistered revision: %+v", r)
	}

	s.Wiki().AddRevisions(en, "Missing article", 77)
	s.Wiki().AddRevisions(en, "Deleted later", 78)
	s.Wiki().SetMissing(en, "Deleted later", true)
	for _, rev := range []int64{77, 78} {
		_, a := parseRev(t, ts, en, rev)
		if e := apiErr(t, a, "missingtitle"); e.Info != "The page you specified doesn't exist." {
			t.Fatalf("info %q", e.Info)
		}
	}
	// A redirect page's revision shows no files.
	s.Wiki().AddRevisions(en, "Redirect to Somewhere", 79)
	if r, _ := parseRev(t, ts, en, 79); r.Parse == nil || len(r.Parse.Images) != 0 {
		t.Fatalf("redirect revision: %+v", r.Parse)
	}
	apiErr(t, get(t, ts, en, params("action", "parse", "prop", "images")), "missingparam")
	apiErr(t, get(t, ts, en, params("action", "parse", "prop", "images", "oldid", "x")), "badinteger")
}
