package mediawiki

import (
	"fmt"
	"maps"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fetchAll is a client's continuation loop: it sends p, then p plus every
// key of the last "continue", until the answer has batchcomplete. It returns
// each page's images in the order received and every answer.
func fetchAll(t *testing.T, ts *httptest.Server, host string, p url.Values) (map[string][]string, []queryResult) {
	t.Helper()
	got := map[string][]string{}
	var answers []queryResult
	cont := map[string]string{}
	for range 1000 {
		q := maps.Clone(p)
		for k, v := range cont {
			q.Set(k, v)
		}
		r := decode[queryResult](t, get(t, ts, host, q).body)
		if r.Error != nil {
			t.Fatalf("error %+v", r.Error)
		}
		answers = append(answers, r)
		for _, pg := range r.Query.Pages {
			got[pg.Title] = append(got[pg.Title], imageNames(pg.Images)...)
		}
		if r.BatchComplete {
			if r.Continue != nil {
				t.Fatalf("batchcomplete with continue %v", r.Continue)
			}
			return got, answers
		}
		if r.Continue == nil {
			t.Fatal("neither batchcomplete nor continue")
		}
		cont = r.Continue
	}
	t.Fatal("no end of continuation")
	return nil, nil
}

func TestContinuation(t *testing.T) {
	s, ts := start(t, Options{ImLimit: 3})
	titles := make([]string, 50)
	for i := range titles {
		titles[i] = fmt.Sprintf("Continued page %d", i)
	}
	p := params("action", "query", "prop", "images", "imlimit", "max", "titles", strings.Join(titles, "|"))
	got, answers := fetchAll(t, ts, en, p)

	total, split := 0, false
	for _, title := range titles {
		want := s.Wiki().CurrentImages(en, title)
		total += len(want)
		if !slices.Equal(got[title], want) {
			t.Fatalf("%s: reassembled %q, want %q", title, got[title], want)
		}
	}
	if want := (total + 2) / 3; len(answers) != want {
		t.Fatalf("%d answers for %d images 3 at a time, want %d", len(answers), total, want)
	}
	for i, r := range answers {
		n := 0
		for _, pg := range r.Query.Pages {
			n += len(pg.Images)
		}
		if len(r.Query.Pages) != 50 || (i < len(answers)-1 && n != 3) {
			t.Fatalf("answer %d: %d pages, %d images", i, len(r.Query.Pages), n)
		}
		if r.Continue == nil {
			continue
		}
		if r.Continue["continue"] != "||" || len(r.Continue) != 2 {
			t.Fatalf("continue %v", r.Continue)
		}
		// imcontinue names the next image: its page id and its name with
		// underscores; the page may have had images in this answer too.
		id, _, _ := strings.Cut(r.Continue["imcontinue"], "|")
		for _, pg := range r.Query.Pages {
			split = split || (strconv.FormatInt(pg.PageID, 10) == id && len(pg.Images) > 0)
		}
		var first string
		for _, pg := range answers[i+1].Query.Pages {
			if len(pg.Images) > 0 {
				first = fmt.Sprintf("%d|%s", pg.PageID, dbKey(strings.TrimPrefix(pg.Images[0].Title, "File:")))
				break
			}
		}
		if first != r.Continue["imcontinue"] {
			t.Fatalf("imcontinue %q, next answer starts at %q", r.Continue["imcontinue"], first)
		}
	}
	if !split {
		t.Fatal("no page's images were split across answers")
	}

	// imlimit in the request works the same without the cap, and the cap
	// changes at run time.
	s.SetImLimit(0)
	p.Set("imlimit", "3")
	if again, answers2 := fetchAll(t, ts, en, p); !maps.EqualFunc(again, got, slices.Equal) || len(answers2) != len(answers) {
		t.Fatal("imlimit=3 differs from ImLimit 3")
	}
	p.Set("imlimit", "max")
	if _, answers3 := fetchAll(t, ts, en, p); len(answers3) != 1 {
		t.Fatalf("%d answers without a cap", len(answers3))
	}
}

// The real API's default imlimit is 10.
func TestDefaultImLimit(t *testing.T) {
	s, ts := start(t, Options{})
	titles := make([]string, 10)
	for i := range titles {
		titles[i] = fmt.Sprintf("Default limit %d", i)
	}
	p := params("action", "query", "prop", "images", "titles", strings.Join(titles, "|"))
	got, answers := fetchAll(t, ts, en, p)
	total := 0
	for _, title := range titles {
		total += len(s.Wiki().CurrentImages(en, title))
		if !slices.Equal(got[title], s.Wiki().CurrentImages(en, title)) {
			t.Fatalf("%s: %q", title, got[title])
		}
	}
	if want := (total + 9) / 10; len(answers) != want {
		t.Fatalf("%d answers for %d images, want %d", len(answers), total, want)
	}
}
