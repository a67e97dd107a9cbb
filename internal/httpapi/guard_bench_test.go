package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGuard is the guard's own cost per request (Host check, CORS,
// cross-origin check), in process, against a handler that does nothing:
// bare, and behind Guard with hosts, a trusted and a reader origin
// configured. (The body deadline needs a real connection: httptest's
// recorder has none, so it is left out here.)
func BenchmarkGuard(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	guarded, err := Guard(h, GuardOptions{Access: Access{Hosts: []string{"sluice.example.org", "*.corp.example"},
		TrustedOrigins: []string{"https://admin.example"}, CORSOrigins: []string{"https://dash.example"}}})
	if err != nil {
		b.Fatal(err)
	}
	for _, req := range []struct {
		name, method, host string
		header             []string
	}{
		{"POST-cli", "POST", "127.0.0.1:8080", nil},
		{"POST-own-page", "POST", "sluice.example.org", []string{"Origin", "http://sluice.example.org", "Sec-Fetch-Site", "same-origin"}},
		{"GET-reader-origin", "GET", "a.corp.example", []string{"Origin", "https://dash.example", "Sec-Fetch-Site", "cross-site"}},
		{"POST-refused", "POST", "127.0.0.1:8080", []string{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}},
	} {
		r := httptest.NewRequest(req.method, "http://"+req.host+"/v1/streams/s/events", nil)
		for i := 0; i+1 < len(req.header); i += 2 {
			r.Header.Set(req.header[i], req.header[i+1])
		}
		for _, c := range []struct {
			name    string
			handler http.Handler
		}{{"bare", h}, {"guarded", guarded}} {
			b.Run(req.name+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					c.handler.ServeHTTP(httptest.NewRecorder(), r)
				}
			})
		}
	}
}
