package mediawiki

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestQueryImages(t *testing.T) {
	s, ts := start(t, Options{})
	with := titleWhere(t, en, "With images", func(n int) bool { return n > 0 })
	without := titleWhere(t, en, "Without images", func(n int) bool { return n == 0 })
	r, a := query(t, ts, en, with+"|"+without)
	if !r.BatchComplete || r.Continue != nil || len(r.Query.Pages) != 2 || r.Query.Normalized != nil {
		t.Fatalf("%s", a.body)
	}
	if r.Query.Pages[0].PageID > r.Query.Pages[1].PageID {
		t.Fatalf("pages not in page id order: %s", a.body)
	}
	for _, p := range r.Query.Pages {
		if p.PageID != PageID(en, p.Title) || p.NS == nil || *p.NS != 0 || p.Missing {
			t.Fatalf("page %+v", p)
		}
		if got, want := imageNames(p.Images), s.Wiki().CurrentImages(en, p.Title); !slices.Equal(got, want) {
			t.Fatalf("%s: images %q, want %q", p.Title, got, want)
		}
		for _, im := range p.Images {
			if im.NS != 6 {
				t.Fatalf("image %+v", im)
			}
		}
	}
	// A page without images has no "images" key at all.
	pages := decode[struct {
		Query struct{ Pages []map[string]any }
	}](t, a.body).Query.Pages
	for _, p := range pages {
		if _, has := p["images"]; has != (p["title"] == with) {
			t.Fatalf("images key on %v", p)
		}
	}
}

func TestBatchOf50(t *testing.T) {
	_, ts := start(t, Options{})
	titles := make([]string, 51)
	for i := range titles {
		titles[i] = fmt.Sprintf("Page %d", i)
	}
	r, a := query(t, ts, en, strings.Join(titles[:50], "|"))
	if len(r.Query.Pages) != 50 || !r.BatchComplete {
		t.Fatalf("50 titles: %d pages, %s", len(r.Query.Pages), a.body)
	}
	_, a = query(t, ts, en, strings.Join(titles, "|"))
	e := apiErr(t, a, "toomanyvalues")
	if e.Info != `Too many values supplied for parameter "titles". The limit is 50.` {
		t.Fatalf("info %q", e.Info)
	}
	if string(a.body) != `{"error":{"code":"toomanyvalues","info":"Too many values supplied for parameter \"titles\". The limit is 50."}}` {
		t.Fatalf("body %s", a.body)
	}
	ids := strings.Repeat("1|", 50) + "1"
	apiErr(t, get(t, ts, en, params("action", "query", "prop", "images", "pageids", ids)), "toomanyvalues")
}

func TestNormalization(t *testing.T) {
	_, ts := start(t, Options{})
	r, a := query(t, ts, en, "douglas_Adams|Douglas Adams|category:foo_bar|image:x.jpg|douglas_Adams")
	want := [][2]string{{"douglas_Adams", "Douglas Adams"}, {"category:foo_bar", "Category:Foo bar"}, {"image:x.jpg", "File:X.jpg"}}
	if len(r.Query.Normalized) != len(want) {
		t.Fatalf("%s", a.body)
	}
	for i, n := range r.Query.Normalized {
		if n.FromEncoded || n.From != want[i][0] || n.To != want[i][1] {
			t.Fatalf("normalized %d: %+v", i, n)
		}
	}
	ns := map[string]int{}
	for _, p := range r.Query.Pages {
		ns[p.Title] = *p.NS
	}
	if len(r.Query.Pages) != 3 || ns["Douglas Adams"] != 0 || ns["Category:Foo bar"] != 14 || ns["File:X.jpg"] != 6 {
		t.Fatalf("pages %s", a.body)
	}
}

func TestInvalidTitle(t *testing.T) {
	_, ts := start(t, Options{})
	r, a := query(t, ts, en, "A<b|Fine")
	p := r.Query.Pages[0] // fake ids sort first
	if len(r.Query.Pages) != 2 || !p.Invalid || p.Title != "A<b" || p.NS != nil ||
		p.InvalidReason != `The requested page title contains invalid characters: "<".` {
		t.Fatalf("%s", a.body)
	}
}

func TestMissing(t *testing.T) {
	s, ts := start(t, Options{Missing: []PageRef{{Host: en, Title: "deleted_page"}}})
	r, a := query(t, ts, en, "Exists|Missing page|Deleted page|Missing two")
	if len(r.Query.Pages) != 4 {
		t.Fatalf("%s", a.body)
	}
	// The real API numbers missing titles -1, -2, ... and sorts pages by
	// that key: the last missing title comes first.
	wantOrder := []string{"Missing two", "Deleted page", "Missing page", "Exists"}
	for i, p := range r.Query.Pages {
		missing := p.Title != "Exists"
		if p.Title != wantOrder[i] || p.Missing != missing || (p.PageID != 0) == missing || (missing && p.Images != nil) {
			t.Fatalf("page %d: %+v in %s", i, p, a.body)
		}
	}
	if !strings.Contains(string(a.body), `{"ns":0,"title":"Missing page","missing":true}`) {
		t.Fatalf("missing page shape: %s", a.body)
	}
	// Only on en; and SetMissing works while running.
	if r, _ := query(t, ts, de, "Deleted page"); r.Query.Pages[0].Missing {
		t.Fatal("missing on de")
	}
	s.Wiki().SetMissing(de, "Deleted page", true)
	if r, _ := query(t, ts, de, "Deleted page"); !r.Query.Pages[0].Missing {
		t.Fatal("SetMissing at run time")
	}
}

func TestRedirects(t *testing.T) {
	target := titleWhere(t, en, "Target", func(n int) bool { return n > 0 })
	s, ts := start(t, Options{Redirects: map[PageRef]string{{Host: en, Title: "Adams, Douglas"}: target}})
	for _, follow := range []string{"", "1", "true"} {
		var kv []string
		if follow != "" {
			kv = []string{"redirects", follow}
		}
		r, a := query(t, ts, en, "Adams, Douglas|redirect_to_Missing thing|"+target, kv...)
		if follow == "" {
			// The redirect pages themselves, with their own ids and no images.
			if r.Query.Redirects != nil || len(r.Query.Pages) != 3 {
				t.Fatalf("without redirects: %s", a.body)
			}
			for _, p := range r.Query.Pages {
				if p.Title != target && (p.PageID != PageID(en, p.Title) || p.Images != nil || p.Missing) {
					t.Fatalf("redirect page %+v", p)
				}
			}
			continue
		}
		want := []struct{ From, To string }{{"Adams, Douglas", target}, {"Redirect to Missing thing", "Missing thing"}}
		if !slices.Equal(r.Query.Redirects, want) || len(r.Query.Pages) != 2 {
			t.Fatalf("redirects=%s: %s", follow, a.body)
		}
		if p := r.Query.Pages[0]; p.Title != "Missing thing" || !p.Missing {
			t.Fatalf("missing target %+v", p)
		}
		if p := r.Query.Pages[1]; p.Title != target || !slices.Equal(imageNames(p.Images), s.Wiki().CurrentImages(en, target)) {
			t.Fatalf("target %+v", p)
		}
	}
}

func TestPageIDs(t *testing.T) {
	_, ts := start(t, Options{})
	a := get(t, ts, en, params("action", "query", "prop", "images", "titles", "Known|Redirect to Known"))
	known := PageID(en, "Known")
	ids := fmt.Sprintf("%d|%d|12345", known, PageID(en, "Redirect to Known"))
	r := decode[queryResult](t, get(t, ts, en, params("action", "query", "prop", "images", "pageids", ids)).body)
	byTitles := decode[queryResult](t, a.body)
	if len(r.Query.Pages) != 3 || r.Query.Pages[0].PageID != 12345 || !r.Query.Pages[0].Missing ||
		r.Query.Pages[0].NS != nil || r.Query.Pages[0].Title != "" {
		t.Fatalf("pageids: %+v", r.Query.Pages)
	}
	if mustJSON(t, r.Query.Pages[1:]) != mustJSON(t, byTitles.Query.Pages) {
		t.Fatalf("by ids %+v\nby titles %+v", r.Query.Pages[1:], byTitles.Query.Pages)
	}
	r = decode[queryResult](t, get(t, ts, en, params("action", "query", "prop", "images", "redirects", "", "pageids", ids)).body)
	if len(r.Query.Redirects) != 1 || len(r.Query.Pages) != 2 || r.Query.Pages[1].PageID != known {
		t.Fatalf("pageids with redirects: %+v", r.Query)
	}
	apiErr(t, get(t, ts, en, params("action", "query", "prop", "images", "pageids", "x")), "badinteger")
	apiErr(t, get(t, ts, en, params("action", "query", "prop", "images", "pageids", "1", "titles", "A")), "invalidparammix")
}

// The wiki comes from the path /{host}/w/api.php or from the Host header.
func TestHosts(t *testing.T) {
	_, ts := start(t, Options{})
	p := params("action", "query", "prop", "images", "imlimit", "max", "titles", "Berlin")
	byHeader := get(t, ts, de, p)
	byPath := do(t, ts, http.MethodGet, "127.0.0.1", "/"+de+"/w/api.php", p)
	if string(byHeader.body) != string(byPath.body) {
		t.Fatalf("header %s\npath %s", byHeader.body, byPath.body)
	}
	if r := decode[queryResult](t, byPath.body); r.Query.Pages[0].PageID != PageID(de, "Berlin") {
		t.Fatalf("%s", byPath.body)
	}
	if r, _ := query(t, ts, en, "Berlin"); r.Query.Pages[0].PageID != PageID(en, "Berlin") {
		t.Fatal("en and de share ids")
	}
	if a := do(t, ts, http.MethodGet, en, "/a/b/w/api.php", p); a.status != http.StatusNotFound {
		t.Fatalf("bad path: %d", a.status)
	}
}

func TestPOST(t *testing.T) {
	_, ts := start(t, Options{})
	p := params("action", "query", "prop", "images", "imlimit", "max", "redirects", "1",
		"titles", "one|redirect_to_two|Missing three")
	byGet := get(t, ts, en, p)
	byPost := do(t, ts, http.MethodPost, en, "", p)
	if byPost.status != http.StatusOK || string(byPost.body) != string(byGet.body) {
		t.Fatalf("GET %s\nPOST %d %s", byGet.body, byPost.status, byPost.body)
	}
}

func TestNotSimulated(t *testing.T) {
	_, ts := start(t, Options{})
	for _, p := range []map[string]string{
		{"action": "query", "prop": "images", "titles": "A", "formatversion": "1"},
		{"action": "query", "prop": "images", "titles": "A", "format": "xml"},
		{"action": "query", "prop": "images|info", "titles": "A"},
		{"action": "query", "prop": "images", "generator": "allpages"},
		{"action": "parse", "prop": "images", "page": "A"},
	} {
		v := params()
		for k, x := range p {
			v.Set(k, x)
		}
		if a := do(t, ts, http.MethodGet, en, "", v); a.status != http.StatusBadRequest ||
			!strings.HasPrefix(string(a.body), "mediawiki simulator: ") {
			t.Fatalf("%v: %d %s", v, a.status, a.body)
		}
	}
	apiErr(t, get(t, ts, en, params("action", "edit")), "badvalue")
	apiErr(t, get(t, ts, en, params("action", "query", "prop", "images", "titles", "A", "imlimit", "lots")), "badinteger")
	apiErr(t, get(t, ts, en, params("action", "query", "prop", "images", "titles", "A", "imcontinue", "junk")), "badcontinue")
}
