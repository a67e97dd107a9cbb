package mediawiki

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/function"
	sim "github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// A page deletion is missing without a request, in both modes.
func TestLogDelete(t *testing.T) {
	for _, mode := range []string{"current", "revision"} {
		t.Run(mode, func(t *testing.T) {
			e := start(t, sim.Options{})
			f := newFunc(t, e, map[string]any{"mode": mode})
			var events []map[string]any
			for _, action := range []string{"delete", "delete_redir"} {
				ev := edit(e, en, "Deleted "+action, 1)
				ev["type"], ev["log_type"], ev["log_action"] = "log", "delete", action
				delete(ev, "revision")
				events = append(events, ev)
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
