package mediawiki

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/function"
	sim "github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// With api_base, the recorded events as they are (server_url
// https://en.wikipedia.org) are answered by the simulator: the event's host
// is still checked against the default allowed_hosts, and the output names
// the wiki's domain, not the simulator's.
func TestAPIBaseRoutesEveryWiki(t *testing.T) {
	e := start(t, sim.Options{})
	f := newFunc(t, nil, map[string]any{"api_base": "http://" + e.addr + "/"})
	events := loadRecorded(t, e)
	for _, ev := range events {
		ev["server_url"] = "https://" + en
	}
	berlin := edit(e, de, "Berlin", 7)
	berlin["server_url"] = "https://de.wikipedia.org"
	events = append(events, berlin)
	outs := outputs(t, call(t, context.Background(), f, events))
	w := e.sim.Wiki()
	for i, o := range outs {
		host := strings.TrimPrefix(events[i]["server_url"].(string), "https://")
		title := events[i]["title"].(string)
		if o.PageID != itoa(sim.PageID(host, title)) || o.Domain != host {
			t.Errorf("%s %q: page_id %q domain %q, want %d %s", host, title, o.PageID, o.Domain, sim.PageID(host, title), host)
		}
		if want := wantImages(w.CurrentImages(host, title)); !slices.Equal(o.ImageList, want) {
			t.Errorf("%q: images %q, want %q", title, o.ImageList, want)
		}
	}
	if len(e.requests(en)) == 0 || len(e.requests("de.wikipedia.org")) != 1 {
		t.Fatalf("requests: %d for %s, %d for de", len(e.requests(en)), en, len(e.requests("de.wikipedia.org")))
	}
}

// api_base does not widen allowed_hosts: an event naming another host is
// refused before any request.
func TestAPIBaseKeepsHostRules(t *testing.T) {
	e := start(t, sim.Options{})
	f := newFunc(t, nil, map[string]any{"api_base": "http://" + e.addr})
	ev := edit(e, en, "Page", 1)
	for _, u := range []string{"https://evil.example.com", "http://en.wikipedia.org", "http://" + e.addr + "/en.wikipedia.org"} {
		ev["server_url"] = u
		if err := call(t, context.Background(), f, []map[string]any{ev})[0].Err; !errors.Is(err, ErrHostNotAllowed) {
			t.Errorf("%s: %v", u, err)
		}
	}
	if n := e.sim.Count(); n != 0 {
		t.Fatalf("%d requests", n)
	}
}

func TestAPIBaseConfig(t *testing.T) {
	for _, tc := range []struct {
		base  string
		hosts []string
		want  string // the base as used, or the error
	}{
		{"http://127.0.0.1:8093", nil, "http://127.0.0.1:8093"},
		{"http://127.0.0.1:8093/", nil, "http://127.0.0.1:8093"},
		{"https://LOCALHOST:8093/sim/", nil, "https://localhost:8093/sim"},
		{"http://[::1]:8093", nil, "http://[::1]:8093"},
		{"http://127.1.2.3", nil, "http://127.1.2.3"},
		{"http://mirror.example:8080", []string{"mirror.example:8080"}, "http://mirror.example:8080"},
		{"http://mirror.example:8080", []string{"*.example"}, "api_base: \"http://mirror.example:8080\": the host must be a loopback address"},
		{"http://10.0.0.1:8093", nil, "the host must be a loopback address or listed exactly in allowed_hosts"},
		{"http://en.wikipedia.org", nil, "the host must be a loopback address"},
		{"ftp://127.0.0.1", nil, "want an http(s) URL"},
		{"127.0.0.1:8093", nil, "want an http(s) URL"},
		{"http://127.0.0.1:8093?x=1", nil, "want an http(s) URL"},
		{"http://u:p@127.0.0.1:8093", nil, "want an http(s) URL"},
		{"http:///x", nil, "want an http(s) URL"},
	} {
		c := map[string]any{"user_agent": userAgent, "api_base": tc.base}
		if tc.hosts != nil {
			c["allowed_hosts"] = tc.hosts
		}
		fn, err := function.NewRegistry(Spec).New(Name, c)
		if err != nil {
			if !errors.Is(err, function.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%q: %v, want %q", tc.base, err, tc.want)
			}
			continue
		}
		f := fn.(*pageImages)
		if got := f.apiBase.String(); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.base, got, tc.want)
		}
		_ = f.Close()
	}
}

func TestRebase(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:8093/sim")
	api, _ := url.Parse("https://en.wikipedia.org/w/api.php")
	if got := rebase(base, api).String(); got != "http://127.0.0.1:8093/sim/en.wikipedia.org/w/api.php" {
		t.Fatal(got)
	}
}
