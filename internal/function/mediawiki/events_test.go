package mediawiki

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/function"
	sim "github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// A page deletion without a log id is missing without a request, in both
// modes.
func TestLogDeleteWithoutLogID(t *testing.T) {
	for _, mode := range []string{"current", "revision"} {
		t.Run(mode, func(t *testing.T) {
			e := start(t, sim.Options{})
			f := newFunc(t, e, map[string]any{"mode": mode})
			var events []map[string]any
			for _, action := range []string{"delete", "delete_redir"} {
				events = append(events, deletionEvent(e, en, "Deleted "+action, action, 0, time.Time{}))
			}
			for i, o := range outputs(t, call(t, context.Background(), f, events)) {
				if !o.Missing || o.PageID != "" || o.ImageList == nil || len(o.ImageList) != 0 || o.RevID != nil ||
					o.Domain != "127.0.0.1" || o.Title != events[i]["title"] || !timeRE.MatchString(o.CreateDateTime) {
					t.Errorf("event %d: %+v", i, o)
				}
			}
			if n := e.sim.Count(); n != 0 {
				t.Fatalf("%d requests", n)
			}
		})
	}
}

// A page deletion with a log id gets, from the deletion log, the id the
// page had, in both modes; a log id the log does not list near the event's
// time gives no id.
func TestLogDeleteFindsThePageID(t *testing.T) {
	for _, mode := range []string{"current", "revision"} {
		t.Run(mode, func(t *testing.T) {
			e := start(t, sim.Options{})
			f := newFunc(t, e, map[string]any{"mode": mode})
			at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
			// The same title deleted twice, created again in between (a new
			// page, with a new id), and a redirect deleted to make way for a
			// move.
			w := e.sim.Wiki()
			first := w.Delete(en, "Twice deleted", 501, at)
			w.SetMissing(en, "Twice deleted", false)
			second := w.Delete(en, "Twice_deleted", 502, at.Add(time.Hour))
			redirect := w.Delete(en, "Old redirect", 503, at)
			w.AddRevisions(en, "Still here", 7)
			events := []map[string]any{
				deletionEvent(e, en, "Twice deleted", "delete", 501, at),
				deletionEvent(e, en, "Twice deleted", "delete", 502, at.Add(time.Hour)),
				deletionEvent(e, en, "Old redirect", "delete_redir", 503, at),
				deletionEvent(e, en, "Twice deleted", "delete", 502, time.Time{}),         // no time: the newest deletions
				deletionEvent(e, en, "Twice deleted", "delete", 999, at),                  // not in the log
				deletionEvent(e, en, "Twice deleted", "delete", 501, at.Add(3*time.Hour)), // not near its time
				edit(e, en, "Still here", 7),
			}
			id := func(n int64) string { return strconv.FormatInt(n, 10) }
			want := []string{id(first), id(second), id(redirect), id(second), "", "", id(sim.PageID(en, "Still here"))}
			if first == second {
				t.Fatal("the page created again has the deleted one's id")
			}
			for i, o := range outputs(t, call(t, context.Background(), f, events)) {
				deleted := i < len(events)-1
				if o.PageID != want[i] || o.Missing != deleted || deleted && len(o.ImageList) != 0 {
					t.Errorf("event %d: %+v, want page_id %q", i, o, want[i])
				}
			}
			var asked int
			for _, r := range e.requests(en) {
				if r.List == "logevents" {
					asked++
					if !r.Maxlag || r.Status != 200 || r.Error != "" {
						t.Errorf("log request %+v", r)
					}
				}
			}
			if asked != 6 {
				t.Errorf("%d log requests, want 6 (one per deletion)", asked)
			}
		})
	}
}

// When the log cannot say, a deletion is missing without an id, as it was
// before the log was asked, not an error: an API error answer, or a wiki
// outside allowed_hosts (then without a request).
func TestLogDeleteFallsBack(t *testing.T) {
	e := start(t, sim.Options{})
	f := newFunc(t, e, nil)
	var asked atomic.Int64
	e.answerWith(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("list") != "logevents" {
			return false
		}
		asked.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"error":{"code":"readapidenied","info":"You need read permission to use this module."}}`)
		return true
	})
	elsewhere := deletionEvent(e, en, "Gone", "delete", 78, time.Time{})
	elsewhere["server_url"] = "https://wiki.invalid" // not allowed (and never resolvable)
	events := []map[string]any{deletionEvent(e, en, "Gone", "delete", 77, time.Time{}), elsewhere}
	for i, o := range outputs(t, call(t, context.Background(), f, events)) {
		if !o.Missing || o.PageID != "" {
			t.Errorf("event %d: %+v", i, o)
		}
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("%d log requests, want 1 (none for the wiki not allowed)", n)
	}
}

// A deletion's log request is retried like any other, and when it keeps
// failing the event fails with the API's error (dead-lettered, redriven
// later), not with a deletion without an id.
func TestLogDeleteRetriesAndFails(t *testing.T) {
	e := start(t, sim.Options{})
	f := newFunc(t, e, map[string]any{"max_attempts": 2})
	e.sim.Wiki().Delete(en, "Gone", 77, time.Now())
	e.sim.SetStatus5xxEvery(1)
	res := call(t, context.Background(), f, []map[string]any{deletionEvent(e, en, "Gone", "delete", 77, time.Time{})})
	var ce *function.CallError
	if !errors.As(res[0].Err, &ce) || ce.Status != 503 || ce.Attempts != 2 || len(res[0].Outputs) != 0 {
		t.Fatalf("%+v", res[0])
	}
	e.sim.SetStatus5xxEvery(0)
	o := outputs(t, call(t, context.Background(), f, []map[string]any{deletionEvent(e, en, "Gone", "delete", 77, time.Time{})}))
	if o[0].PageID != strconv.FormatInt(sim.PageID(en, "Gone"), 10) || !o[0].Missing {
		t.Fatalf("%+v", o[0])
	}
}

// deletionEvent is a synthetic deletion of title on host, as log entry
// logID (none if 0) at time at (no timestamp if zero).
func deletionEvent(e *env, host, title, action string, logID int64, at time.Time) map[string]any {
	ev := edit(e, host, title, 1)
	ev["type"], ev["log_type"], ev["log_action"] = "log", "delete", action
	if logID != 0 {
		ev["log_id"] = logID
	}
	if !at.IsZero() {
		ev["timestamp"] = at.Unix()
	}
	ev["meta"].(map[string]any)["id"] = fmt.Sprintf("del-%s-%s-%d-%d", host, title, logID, at.Unix())
	delete(ev, "revision")
	return ev
}

// Events that cannot be looked up fail with a clear error and no request;
// the others still get their output, in order.
func TestBadEvents(t *testing.T) {
	e := start(t, sim.Options{})
	f := newFunc(t, e, nil)
	noTitle := edit(e, en, "x", 1)
	delete(noTitle, "title")
	noServer := edit(e, en, "x", 1)
	delete(noServer, "server_url")
	noDT := edit(e, en, "x", 1)
	noDT["meta"] = map[string]any{"id": "a"}
	badType := edit(e, en, "x", 1)
	badType["title"] = 42
	otherLog := edit(e, en, "Moved page", 1)
	otherLog["type"], otherLog["log_type"], otherLog["log_action"] = "log", "move", "move"
	delete(otherLog, "revision")
	badPath := edit(e, en, "x", 1)
	badPath["server_script_path"] = "@evil.example/w"
	events := []map[string]any{edit(e, en, "First", 1), noTitle, noServer, noDT, badType, otherLog, badPath, edit(e, en, "Last", 2)}
	raw := make([]json.RawMessage, 0, len(events)+1)
	for _, ev := range events {
		b, _ := json.Marshal(ev)
		raw = append(raw, b)
	}
	raw = append(raw, json.RawMessage(`not json`))
	res := f.Call(context.Background(), raw)
	wantErr := []string{"", "title: required", "server_url: required", "meta.dt: required", "event: title: want string",
		"", "server_script_path:", "", "event is not a JSON object"}
	if len(res) != len(wantErr) {
		t.Fatalf("%d results", len(res))
	}
	for i, want := range wantErr {
		r := res[i]
		if want == "" {
			if r.Err != nil || len(r.Outputs) != 1 {
				t.Errorf("event %d: %v", i, r.Err)
			}
			continue
		}
		if r.Err == nil || !strings.Contains(r.Err.Error(), want) || len(r.Outputs) != 0 {
			t.Errorf("event %d: got %v, want %q", i, r.Err, want)
		}
	}
	outs := outputs(t, []function.Result{res[0], res[5], res[7]})
	if outs[0].Title != "First" || outs[1].Title != "Moved page" || outs[2].Title != "Last" {
		t.Fatalf("%+v", outs)
	}
	if n := len(e.requests(en)); n != 1 {
		t.Fatalf("%d requests", n)
	}
}

// Hosts outside allowed_hosts are refused before any request.
func TestHostsRefused(t *testing.T) {
	e := start(t, sim.Options{})
	for _, tc := range []struct {
		name      string
		hosts     []string
		serverURL string
		want      string
	}{
		{"host not listed", nil, "https://evil.example.com", `"evil.example.com" is not in allowed_hosts`},
		{"http for a suffix rule", []string{"*.wikipedia.org"}, "http://en.wikipedia.org", "http is allowed only for hosts listed exactly"},
		{"simulator's port not listed", []string{"127.0.0.1:1"}, e.serverURL(en), "is not in allowed_hosts"},
		{"lookalike", []string{"*.wikipedia.org"}, "https://en.wikipedia.org.evil.example", "not in allowed_hosts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := map[string]any{}
			if tc.hosts != nil {
				c["allowed_hosts"] = tc.hosts
			}
			f := newFunc(t, nil, c)
			ev := edit(e, en, "Page", 1)
			ev["server_url"] = tc.serverURL
			res := call(t, context.Background(), f, []map[string]any{ev})
			if err := res[0].Err; !errors.Is(err, ErrHostNotAllowed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	if n := e.sim.Count(); n != 0 {
		t.Fatalf("%d requests", n)
	}
}

func TestEndpoint(t *testing.T) {
	rules, err := parseHosts(append([]string{"127.0.0.1:8093", "Mirror.Example"}, DefaultAllowedHosts...))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		server, script, want string // want "" means refused
	}{
		{"https://en.wikipedia.org", "/w", "https://en.wikipedia.org/w/api.php"},
		{"https://EN.Wikipedia.org", "/w", "https://en.wikipedia.org/w/api.php"},
		{"https://wikidata.org", "/w", "https://wikidata.org/w/api.php"},
		{"https://www.mediawiki.org", "/w", "https://www.mediawiki.org/w/api.php"},
		{"https://commons.wikimedia.org", "", "https://commons.wikimedia.org/api.php"},
		{"http://127.0.0.1:8093/en.wikipedia.org", "/w", "http://127.0.0.1:8093/en.wikipedia.org/w/api.php"},
		{"http://mirror.example", "/w", "http://mirror.example/w/api.php"},
		{"http://127.0.0.1:8094", "/w", ""},
		{"https://127.0.0.1", "/w", ""},
		{"http://en.wikipedia.org", "/w", ""},
		{"https://en.wikipedia.org:8443", "/w", ""},
		{"https://evilwikipedia.org", "/w", ""},
		{"https://en.wikipedia.org.evil.example", "/w", ""},
		{"https://user@en.wikipedia.org", "/w", ""},
		{"https://en.wikipedia.org", "@evil.example/w", ""},
		{"https://en.wikipedia.org", "/w/../../x", ""},
		{"https://en.wikipedia.org", "//evil.example/w", ""},
		{"https://en.wikipedia.org?x=1", "/w", ""},
		{"ftp://en.wikipedia.org", "/w", ""},
		{"en.wikipedia.org", "/w", ""},
		{"", "/w", ""},
	} {
		u, err := rules.endpoint(tc.server, tc.script)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%q %q: allowed as %s", tc.server, tc.script, u)
		case tc.want != "" && (err != nil || u.String() != tc.want):
			t.Errorf("%q %q: got %v %v, want %s", tc.server, tc.script, u, err, tc.want)
		}
	}
	// Redirects are followed only to allowed hosts.
	if err := rules.check(&url.URL{Scheme: "https", Host: "evil.example"}); !errors.Is(err, ErrHostNotAllowed) {
		t.Fatal(err)
	}
}
