package mediawiki

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/function"
	sim "github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// maxlag answers and 429s wait Retry-After (1 s here), then succeed.
func TestWaitsAndRetries(t *testing.T) {
	for _, tc := range []struct {
		name   string
		o      sim.Options
		status int
		code   string
	}{
		{"maxlag", sim.Options{MaxlagEvery: 2}, 200, "maxlag"},
		{"429", sim.Options{Status429Every: 2}, 429, ""},
		{"503", sim.Options{Status5xxEvery: 2}, 503, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, tc.o)
			f := newFunc(t, e, map[string]any{"max_concurrency_per_wiki": 1})
			titles := titlesN("Page", 100) // two requests: the second is refused once
			began := time.Now()
			outs := outputs(t, call(t, context.Background(), f, edits(e, en, titles...)))
			took := time.Since(began)
			for i, o := range outs {
				if o.PageID != itoa(sim.PageID(en, titles[i])) ||
					!slices.Equal(o.ImageList, wantImages(e.sim.Wiki().CurrentImages(en, titles[i]))) {
					t.Fatalf("event %d: %+v", i, o)
				}
			}
			var got []string
			for _, r := range e.requests(en) {
				got = append(got, itoa(int64(r.Status))+":"+r.Error)
			}
			want := []string{"200:", itoa(int64(tc.status)) + ":" + tc.code, "200:"}
			if !slices.Equal(got, want) {
				t.Fatalf("requests %q, want %q", got, want)
			}
			if tc.status != 503 && took < time.Second {
				t.Fatalf("did not wait Retry-After: %v", took)
			}
		})
	}
}

// Past max_attempts the events fail with what a dead letter needs.
func TestServerErrorsExhaustAttempts(t *testing.T) {
	e := start(t, sim.Options{Status5xxEvery: 1})
	f := newFunc(t, e, map[string]any{"max_attempts": 3})
	res := call(t, context.Background(), f, edits(e, en, "A", "B"))
	for i, r := range res {
		var ce *function.CallError
		if !errors.As(r.Err, &ce) || ce.Attempts != 3 || ce.Status != http.StatusServiceUnavailable ||
			!strings.Contains(ce.Body, "Service Temporarily Unavailable") || !strings.Contains(r.Err.Error(), "after 3 attempts") {
			t.Fatalf("event %d: %#v", i, r.Err)
		}
	}
	if n := e.sim.Count(); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
}

// A request that times out is retried, then fails.
func TestTimeout(t *testing.T) {
	e := start(t, sim.Options{Latency: 5 * time.Second})
	f := newFunc(t, e, map[string]any{"timeout": "100ms", "max_attempts": 2})
	began := time.Now()
	res := call(t, context.Background(), f, edits(e, en, "Slow"))
	var ce *function.CallError
	if !errors.As(res[0].Err, &ce) || ce.Attempts != 2 || ce.Status != 0 || !errors.Is(res[0].Err, context.DeadlineExceeded) {
		t.Fatalf("%#v", res[0].Err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("took %v", took)
	}
}

// API errors other than maxlag fail the events of the request, with code
// and info, without retrying; unexpected answers fail with an excerpt.
func TestErrorAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, mode, body, want string
	}{
		{"toomanyvalues", "current", `{"error":{"code":"toomanyvalues","info":"Too many values supplied for parameter \"titles\". The limit is 50."}}`,
			`mediawiki API error toomanyvalues: Too many values supplied for parameter "titles"`},
		{"badvalue in parse", "revision", `{"error":{"code":"badvalue","info":"Unrecognized value."}}`, "mediawiki API error badvalue: Unrecognized value."},
		{"permissiondenied", "revision", `{"error":{"code":"permissiondenied","info":"no"}}`, "permissiondenied"},
		{"html", "current", `<html><body>Oops</body></html>`, "unexpected answer: invalid character '<'"},
		{"array", "current", `[]`, "unexpected answer"},
		{"pages not a list", "current", `{"query":{"pages":"x"}}`, "unexpected answer"},
		{"no query", "current", `{"batchcomplete":true}`, `unexpected answer: no "query"`},
		{"page without title", "current", `{"query":{"pages":[{"pageid":1}]}}`, "a page without title"},
		{"title not answered", "current", `{"query":{"pages":[{"pageid":1,"ns":0,"title":"Other"}]}}`, `title "Page" (as "Page") is not in it`},
		{"no pageid", "current", `{"query":{"pages":[{"ns":0,"title":"Page"}]}}`, "has no pageid"},
		{"bad continue", "current", `{"continue":{"imcontinue":{}},"query":{"pages":[]}}`, "continue.imcontinue is neither"},
		{"stuck continue", "current", `{"continue":{"imcontinue":"1|A","continue":"||"},"query":{"pages":[{"pageid":1,"title":"Page"}]}}`, "continue does not advance"},
		{"parse missing", "revision", `{"parse":{}}`, `no "pageid"`},
		{"parse images not list", "revision", `{"parse":{"pageid":1,"images":{}}}`, "unexpected answer"},
		{"parse no images", "revision", `{"parse":{"pageid":1}}`, `no "images"`},
		{"HTTP 404", "current", "", "unexpected HTTP status 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, sim.Options{})
			e.answerWith(func(w http.ResponseWriter, r *http.Request) bool {
				if tc.body == "" {
					http.NotFound(w, r)
					return true
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.body))
				return true
			})
			f := newFunc(t, e, map[string]any{"mode": tc.mode})
			res := call(t, context.Background(), f, edits(e, en, "Page"))
			var ce *function.CallError
			if err := res[0].Err; err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if errors.As(res[0].Err, &ce) && (ce.Attempts != 1 || ce.Body != tc.body && tc.body != "") {
				t.Fatalf("%#v", ce)
			}
			if strings.Contains(tc.name, "error") || strings.HasPrefix(tc.body, `{"error"`) {
				var ae *APIError
				if !errors.As(res[0].Err, &ae) || ce == nil || ce.Status != 200 {
					t.Fatalf("want an APIError in a CallError: %#v", res[0].Err)
				}
			}
			if n := e.sim.Count(); n != 0 {
				t.Fatalf("the simulator answered %d", n)
			}
		})
	}
}

// FuzzAnswers feeds arbitrary answers to the decoders: errors, never panics.
func FuzzAnswers(f *testing.F) {
	for _, s := range []string{`{"query":{"normalized":[{"from":"a","to":"A"}],"redirects":[{"from":"A","to":"B"}],` +
		`"pages":[{"pageid":3,"ns":0,"title":"B","images":[{"ns":6,"title":"File:X.jpg"}]}]}}`,
		`{"continue":{"imcontinue":"3|X.jpg","continue":"||"},"query":{"pages":[{"ns":0,"title":"a","missing":true}]}}`,
		`{"parse":{"title":"a","pageid":1,"revid":2,"images":["A_b.jpg"]}}`, `{"query":{"interwiki":[{"title":"en:x","iw":"en"}]}}`,
		`{"batchcomplete":true,"query":{"logevents":[{"logid":12,"pageid":0,"logpage":77}]}}`,
		`{"query":{"logevents":[{"logid":12,"logpage":-3}]}}`,
		`{"continue":{"x":1.5}}`, `null`, `{"query":null}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ps := newPageSet()
		if _, err := ps.merge(body); err == nil {
			for _, r := range ps.resolve([]string{"a", "B", "en:x"}, time.Now()) {
				if r.err == nil && !r.missing && r.id <= 0 {
					t.Fatalf("page without id: %+v", r)
				}
			}
		}
		if images, id, err := decodeParse(body); err == nil && (id <= 0 || images == nil) {
			t.Fatalf("parse: %v %d", images, id)
		}
		if id, err := decodeDeletion(body, 12); err == nil && id < 0 {
			t.Fatalf("deletion: page id %d", id)
		}
	})
}

// A redirect to a host outside allowed_hosts is not followed, nor retried.
func TestRedirectRefused(t *testing.T) {
	e := start(t, sim.Options{})
	e.answerWith(func(w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, "http://evil.example/w/api.php", http.StatusFound)
		return true
	})
	f := newFunc(t, e, nil)
	res := call(t, context.Background(), f, edits(e, en, "Page"))
	var ce *function.CallError
	if !errors.Is(res[0].Err, ErrHostNotAllowed) || !errors.As(res[0].Err, &ce) || ce.Attempts != 1 ||
		!strings.Contains(res[0].Err.Error(), `"evil.example" is not in allowed_hosts`) {
		t.Fatalf("%#v", res[0].Err)
	}
	if p := e.peakOf(en); p != 1 {
		t.Fatalf("peak %d", p)
	}
}
