package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHostAllowed(t *testing.T) {
	rules, err := hostRules([]string{"sluice.example.org", "*.corp.example", "Mixed.Example"})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"": true, "localhost": true, "localhost:8080": true, "LOCALHOST.": true,
		"127.0.0.1": true, "127.0.0.1:8080": true, "127.9.9.9:1": true, "[::1]:8080": true, "[::1]": true,
		"10.1.2.3:8080": true, "[2001:db8::1]:443": true, "[fe80::1%25eth0]:80": true, // IP addresses cannot be rebound
		"sluice.example.org": true, "sluice.example.org:8080": true, "SLUICE.example.org.": true,
		"corp.example": true, "a.corp.example": true, "a.b.corp.example:1": true, "mixed.example": true,
		"evil.example": false, "sluice.example.org.evil.example": false, "xsluice.example.org": false,
		"corp.example.evil": false, "evilcorp.example": false, "localhost.evil.example": false, "a.localhost": false,
		"127.0.0.1.evil.example": false, "0x7f000001": false,
	} {
		if got := hostAllowed(rules, host); got != want {
			t.Errorf("%q: got %v, want %v", host, got, want)
		}
	}
}

func TestParseHostPatternAndOrigin(t *testing.T) {
	for _, bad := range []string{"", "*.", "a.*.b", "*", "http://x.org", "x.org:80", "x.org/p", "u@x.org", "*.x.org:1"} {
		if _, err := ParseHostPattern(bad); err == nil {
			t.Errorf("host %q: no error", bad)
		}
	}
	for in, want := range map[string]string{
		"https://Dash.Example.org": "https://dash.example.org", "https://x.org:443": "https://x.org",
		"http://x.org:80": "http://x.org", "http://127.0.0.1:3000": "http://127.0.0.1:3000", "https://x.org/": "https://x.org",
		"HTTPS://x.org": "https://x.org",
	} {
		if got, err := ParseOrigin(in); err != nil || got != want {
			t.Errorf("origin %q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "*", "x.org", "ftp://x.org", "https://x.org/p", "https://x.org?q", "https://*.x.org", "https://u@x.org", "null"} {
		if _, err := ParseOrigin(bad); err == nil {
			t.Errorf("origin %q: no error", bad)
		}
	}
	err := Access{Hosts: []string{"ok.org", "x.org:1"}, TrustedOrigins: []string{"*"}, CORSOrigins: []string{"*", "nope"}}.Validate()
	for _, want := range []string{"hosts[1]:", "trusted_origins[0]:", "cors_origins[1]:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %s in %v", want, err)
		}
	}
}

// TestCORSAnyOrigin: with cors_origins ["*"] any page may read, none may
// write, and a trusted origin still may.
func TestCORSAnyOrigin(t *testing.T) {
	h, err := Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }),
		GuardOptions{Access: Access{CORSOrigins: []string{"*"}, TrustedOrigins: []string{"https://admin.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(method, path string, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "http://localhost"+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := serve("GET", "/v1/streams", "Origin", "https://any.example"); w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("read from any origin: %v", w.Header())
	}
	if w := serve("OPTIONS", "/v1/streams", "Origin", "https://any.example", "Access-Control-Request-Method", "POST"); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight of a write from any origin: %v", w.Header())
	}
	if w := serve("POST", "/v1/streams", "Origin", "https://any.example", "Sec-Fetch-Site", "cross-site"); w.Code != http.StatusForbidden {
		t.Fatalf("write from any origin: %d", w.Code)
	}
	if w := serve("POST", "/v1/streams", "Origin", "https://admin.example", "Sec-Fetch-Site", "cross-site"); w.Code != http.StatusOK ||
		w.Header().Get("Access-Control-Allow-Origin") != "https://admin.example" {
		t.Fatalf("write from the trusted origin: %d %v", w.Code, w.Header())
	}
	if w := serve("GET", "/ui/app.css", "Origin", "https://any.example"); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("the UI's files are not the API: %v", w.Header())
	}
}

// FuzzHostAllowed: any Host either names a rule, localhost or an IP
// address, or is refused; nothing panics.
func FuzzHostAllowed(f *testing.F) {
	for _, s := range []string{"localhost:1", "[::1]:80", "a.corp.example", "evil.example", "corp.example.", "[", ":", "%", "[::1"} {
		f.Add(s)
	}
	rules, _ := hostRules([]string{"*.corp.example", "sluice.example"})
	f.Fuzz(func(t *testing.T, host string) {
		if !hostAllowed(rules, host) {
			return
		}
		l := strings.ToLower(host)
		if host != "" && !strings.Contains(l, "corp.example") && !strings.Contains(l, "sluice.example") &&
			!strings.Contains(l, "localhost") && !strings.ContainsAny(l, ":.") {
			t.Fatalf("%q allowed", host)
		}
	})
}

// TestCrossSiteReads: without configured origins, only the node's own
// pages, links followed and clients without fetch metadata read the API.
func TestCrossSiteReads(t *testing.T) {
	h, err := Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }), GuardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path   string
		want   int
		header []string
	}{
		{"/v1/streams", 200, nil},
		{"/v1/streams", 200, []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://localhost"}},
		{"/v1/streams", 200, []string{"Origin", "http://localhost"}},
		{"/v1/streams", 200, []string{"Sec-Fetch-Site", "none"}},
		{"/v1/streams", 200, []string{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document"}},
		{"/v1/streams", 403, []string{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "iframe"}},
		{"/v1/streams", 403, []string{"Sec-Fetch-Site", "same-site", "Origin", "http://a.localhost"}},
		{"/v1/streams", 403, []string{"Origin", "http://evil.example"}},
		{"/metrics", 403, []string{"Sec-Fetch-Site", "cross-site"}},
		{"/ui/streams", 200, []string{"Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"}},
	} {
		r := httptest.NewRequest("GET", "http://localhost"+c.path, nil)
		for i := 0; i+1 < len(c.header); i += 2 {
			r.Header.Set(c.header[i], c.header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("GET %s %v: %d, want %d", c.path, c.header, w.Code, c.want)
		}
	}
}
