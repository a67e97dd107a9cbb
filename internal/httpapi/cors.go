package httpapi

import (
	"net/http"
	"strings"

	"github.com/rs/cors"
)

// corsMaxAge is how long a browser may keep a preflight's answer, in seconds.
const corsMaxAge = 600

// Headers a page on another origin may read from answers beyond the
// CORS-safelisted ones: the next page of an NDJSON read, the place of a
// created stream, when to come back.
var corsExposed = []string{"Sluice-Next", "Location", "Retry-After"}

// withCORS answers CORS for the API (not the UI's files): trusted origins
// may read and change state, reader origins ("*" for any) may only read.
// The cross-origin check inside still decides whether a state change runs;
// CORS only lets a page see answers and send non-simple requests. rs/cors
// handles the preflight details (Vary, Access-Control-Request-Headers,
// Private Network Access); two of its handlers give the two kinds of origin
// their own methods.
func withCORS(next http.Handler, trusted, readers []string) http.Handler {
	if len(trusted) == 0 && len(readers) == 0 {
		return next
	}
	// Private network access: a dashboard on a public origin may read a node
	// on a private address only if the preflight says so, and the operator
	// listed the origin for that purpose.
	var read, write http.Handler
	if len(readers) > 0 { // an empty list would mean "any origin" to rs/cors
		read = cors.New(cors.Options{AllowedOrigins: readers, AllowedMethods: []string{http.MethodGet, http.MethodHead},
			AllowedHeaders: []string{"Accept", "Authorization", "Last-Event-ID", "Cache-Control"}, ExposedHeaders: corsExposed,
			MaxAge: corsMaxAge, AllowPrivateNetwork: true}).Handler(next)
	}
	isTrusted := map[string]bool{}
	if len(trusted) > 0 {
		for _, o := range trusted {
			isTrusted[o] = true
		}
		write = cors.New(cors.Options{AllowedOrigins: trusted,
			AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete},
			AllowedHeaders: []string{"Accept", "Authorization", "Content-Type", "Last-Event-ID", "Cache-Control"}, ExposedHeaders: corsExposed,
			MaxAge: corsMaxAge, AllowPrivateNetwork: true}).Handler(next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !apiPath(r.URL.Path):
			next.ServeHTTP(w, r)
		case write != nil && isTrusted[r.Header.Get("Origin")]:
			write.ServeHTTP(w, r)
		case read != nil:
			read.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// apiPath reports whether a path is the API's (CORS applies) rather than the UI's.
func apiPath(p string) bool {
	switch p {
	case "/healthz", "/readyz", "/openapi.json":
		return true
	}
	return strings.HasPrefix(p, "/v1/")
}
