package mediawiki

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	en = "en.wikipedia.org"
	de = "de.wikipedia.org"
)

// start serves New(o) on loopback until the test ends.
func start(t *testing.T, o Options) (*Server, *httptest.Server) {
	t.Helper()
	s := New(o)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	t.Cleanup(s.Close)
	return s, ts
}

// params is format=json&formatversion=2 plus name, value pairs.
func params(kv ...string) url.Values {
	v := url.Values{"format": {"json"}, "formatversion": {"2"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// answer is one HTTP response, read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request for the wiki host to /w/api.php with the Host header
// (or, if path is not empty, to path); POST sends p as a form body.
func do(t *testing.T, ts *httptest.Server, method, host, path string, p url.Values) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if path == "" {
		path = "/w/api.php"
	}
	var body io.Reader
	target := ts.URL + path
	if method == http.MethodPost {
		body = strings.NewReader(p.Encode())
	} else {
		target += "?" + p.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Host = host
	req.Header.Set("User-Agent", "sluice-test/1.0 (https://example.org; test@example.org)")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// get is do with GET on /w/api.php, checking for HTTP 200 and JSON.
func get(t *testing.T, ts *httptest.Server, host string, p url.Values) answer {
	t.Helper()
	a := do(t, ts, http.MethodGet, host, "", p)
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("%v: %d %q %s", p, a.status, a.header.Get("Content-Type"), a.body)
	}
	return a
}

// queryResult decodes the parts of a query answer the tests look at.
type queryResult struct {
	BatchComplete bool              `json:"batchcomplete"`
	Continue      map[string]string `json:"continue"`
	Query         struct {
		Normalized []struct {
			FromEncoded bool   `json:"fromencoded"`
			From        string `json:"from"`
			To          string `json:"to"`
		} `json:"normalized"`
		Redirects []struct{ From, To string } `json:"redirects"`
		Pages     []struct {
			PageID        int64  `json:"pageid"`
			NS            *int   `json:"ns"`
			Title         string `json:"title"`
			Missing       bool   `json:"missing"`
			Invalid       bool   `json:"invalid"`
			InvalidReason string `json:"invalidreason"`
			Images        []struct {
				NS    int    `json:"ns"`
				Title string `json:"title"`
			} `json:"images"`
		} `json:"pages"`
	} `json:"query"`
	Error *apiError `json:"error"`
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// query gets action=query&prop=images&imlimit=max for titles plus kv.
func query(t *testing.T, ts *httptest.Server, host, titles string, kv ...string) (queryResult, answer) {
	t.Helper()
	p := params(append([]string{"action", "query", "prop", "images", "imlimit", "max", "titles", titles}, kv...)...)
	a := get(t, ts, host, p)
	return decode[queryResult](t, a.body), a
}

// apiErr checks that a is the API error code (HTTP 200) and returns it.
func apiErr(t *testing.T, a answer, code string) *apiError {
	t.Helper()
	r := decode[queryResult](t, a.body)
	if a.status != http.StatusOK || r.Error == nil || r.Error.Code != code || a.header.Get("MediaWiki-API-Error") != code {
		t.Fatalf("want API error %s, got %d %s", code, a.status, a.body)
	}
	return r.Error
}

// imageNames are a page's image titles in the answer.
func imageNames(imgs []struct {
	NS    int    `json:"ns"`
	Title string `json:"title"`
}) []string {
	var out []string
	for _, im := range imgs {
		out = append(out, im.Title)
	}
	return out
}

// titleWhere returns the first of base, "base 2", "base 3", ... on host
// whose current images (in a fresh wiki) satisfy ok.
func titleWhere(t *testing.T, host, base string, ok func(n int) bool) string {
	t.Helper()
	w := NewWiki()
	for i := 1; i < 1000; i++ {
		title := base
		if i > 1 {
			title = fmt.Sprintf("%s %d", base, i)
		}
		if ok(len(w.CurrentImages(host, title))) {
			return title
		}
	}
	t.Fatalf("no title like %q fits", base)
	return ""
}
