package mediawiki

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestNormalizeTitle(t *testing.T) {
	for in, want := range map[string]string{
		"douglas_Adams":         "Douglas Adams",
		"  spaced__out  title ": "Spaced out title",
		"category:foo_bar":      "Category:Foo bar",
		"image:x.jpg":           "File:X.jpg",
		"Unknown:prefix":        "Unknown:prefix",
		"ébène":                 "Ébène",
		"Foo#Section":           "Foo",
		"A<b":                   "A<b", // invalid: returned as given
		"":                      "",
	} {
		if got := NormalizeTitle(in); got != want {
			t.Errorf("NormalizeTitle(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPageID(t *testing.T) {
	id := PageID(en, "Douglas Adams")
	if id < 1 || id > 1<<31 {
		t.Fatalf("PageID %d out of 1..2^31", id)
	}
	if PageID(en, "douglas_Adams") != id || PageID("EN.wikipedia.org", "Douglas Adams") != id {
		t.Fatal("PageID depends on the spelling of the same page")
	}
	if PageID(de, "Douglas Adams") == id || PageID(en, "Douglas Adams 2") == id {
		t.Fatal("PageID is the same for other pages")
	}
}

// Images is deterministic, 0..8 sorted "File:" names, and each revision
// adds or removes exactly one file.
func TestImagesHistory(t *testing.T) {
	imageless := 0
	for i := range 200 {
		title := fmt.Sprintf("Page %d", i)
		if Imageless(en, title) {
			imageless++
			if Images(en, title, 12345) != nil {
				t.Fatalf("%s is imageless but has images", title)
			}
			continue
		}
		prev := Images(en, title, 1000)
		for rev := int64(1001); rev < 1300; rev++ {
			cur := Images(en, title, rev)
			if !slices.Equal(cur, Images(en, title, rev)) || len(cur) > 8 {
				t.Fatalf("%s rev %d: %q", title, rev, cur)
			}
			if !slices.IsSortedFunc(cur, func(a, b string) int { return strings.Compare(dbKey(a), dbKey(b)) }) {
				t.Fatalf("%s rev %d not sorted: %q", title, rev, cur)
			}
			for _, f := range cur {
				if !strings.HasPrefix(f, "File:") {
					t.Fatalf("%s rev %d: %q", title, rev, f)
				}
			}
			if d := symDiff(prev, cur); len(d) != 1 {
				t.Fatalf("%s rev %d vs %d: changed %q", title, rev-1, rev, d)
			}
			prev = cur
		}
	}
	if imageless < 10 || imageless > 50 {
		t.Fatalf("%d of 200 pages imageless, want about 25", imageless)
	}
	if Images(en, "Page 1", 0) != nil || Images(en, "Page 1", -3) != nil {
		t.Fatal("images for a revision <= 0")
	}
	if slices.Equal(Images(en, "Page 1", 5), Images(de, "Page 1", 5)) && slices.Equal(Images(en, "Page 2", 5), Images(de, "Page 2", 5)) {
		t.Fatal("hosts share histories")
	}
}

func symDiff(a, b []string) []string {
	var d []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			d = append(d, "-"+x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			d = append(d, "+"+x)
		}
	}
	return d
}

func TestWikiRules(t *testing.T) {
	w := NewWiki()
	if w.Exists(en, "Missing person") || !w.Exists(en, "Anything") {
		t.Fatal("default existence rule")
	}
	w.SetMissing(en, "gone_page", true)
	w.SetMissing("", "Gone everywhere", true)
	if w.Exists(en, "Gone page") || !w.Exists(de, "Gone page") || w.Exists(de, "Gone everywhere") {
		t.Fatal("SetMissing")
	}
	w.SetMissing(en, "Gone page", false)
	if !w.Exists(en, "Gone page") {
		t.Fatal("SetMissing false")
	}
	if to, ok := w.RedirectTarget(en, "Redirect to douglas_adams"); !ok || to != "Douglas adams" {
		t.Fatalf("default redirect: %q %v", to, ok)
	}
	w.SetRedirect(en, "Adams, Douglas", "douglas adams")
	if to, ok := w.RedirectTarget(en, "Adams, Douglas"); !ok || to != "Douglas adams" {
		t.Fatalf("SetRedirect: %q %v", to, ok)
	}
	if w.CurrentImages(en, "Redirect to Anything") != nil {
		t.Fatal("a redirect page shows images")
	}
	title := "Some page"
	latest := w.LatestRevision(en, title)
	if latest != DefaultLatestRevision(en, title) || !slices.Equal(w.CurrentImages(en, title), Images(en, title, latest)) {
		t.Fatal("default latest revision")
	}
	w.SetLatestRevision(en, title, 42)
	if !slices.Equal(w.CurrentImages(en, title), Images(en, title, 42)) {
		t.Fatal("SetLatestRevision")
	}
	if p, ok := w.RevisionPage(en, latest); !ok || p != title {
		t.Fatalf("RevisionPage(latest) = %q %v", p, ok)
	}
	if p, ok := w.RevisionPage(en, 7); !ok || p != "Revision 7" {
		t.Fatalf("RevisionPage(unregistered) = %q %v", p, ok)
	}
	w.SetRevisionMissing(42, true)
	if _, ok := w.RevisionPage(en, 42); ok {
		t.Fatal("SetRevisionMissing")
	}
}
