package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// crossOrigin refuses what a browser sends on behalf of another site's page
// without the operator's leave:
//
//   - a state change (POST, PUT, DELETE: CSRF), unless the origin is
//     trusted. The check is net/http's CrossOriginProtection: Sec-Fetch-Site
//     where browsers send it, else Origin against Host.
//   - a read of the API, unless the origin may read (CORS). The browser
//     would not show such a page the answer anyway, but the node would still
//     do the work: a page the user happens to open could keep subscriptions
//     and filtered scans running against the node on their machine. A link
//     followed to the API (a top-level navigation) is still served.
//
// Requests without Sec-Fetch-Site and Origin (the CLI, curl) always pass.
func (g *guard) crossOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p *Problem
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			if g.readRefused(r) {
				p = crossOriginProblem(r, "Cross-origin read refused", "read the API", "http.cors_origins")
			}
		default:
			if g.csrf.Check(r) != nil {
				p = crossOriginProblem(r, "Cross-origin request refused", "change state", "http.trusted_origins")
			}
		}
		if p == nil {
			next.ServeHTTP(w, r)
			return
		}
		g.log.Debug("request refused: cross-origin", "origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"),
			"method", r.Method, "path", r.URL.Path)
		refuse(w, r, g.log, p)
	})
}

// readRefused reports whether a GET or HEAD of the API comes from another
// site's page whose origin may not read.
func (g *guard) readRefused(r *http.Request) bool {
	if !apiPath(r.URL.Path) && r.URL.Path != "/metrics" {
		return false // the UI's own files
	}
	origin := r.Header.Get("Origin")
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return false
	case "":
		// An older browser sends Origin on cross-origin fetches only.
		if o, err := url.Parse(origin); origin == "" || (err == nil && o.Host == r.Host) {
			return false
		}
	}
	if r.Header.Get("Sec-Fetch-Mode") == "navigate" && r.Header.Get("Sec-Fetch-Dest") == "document" {
		return false
	}
	return !g.readers["*"] && !(origin != "" && g.readers[origin])
}

func crossOriginProblem(r *http.Request, title, what, config string) *Problem {
	origin, site := r.Header.Get("Origin"), r.Header.Get("Sec-Fetch-Site")
	var from []string
	if origin != "" {
		from = append(from, fmt.Sprintf("Origin %q", clip(origin)))
	}
	if site != "" {
		from = append(from, fmt.Sprintf("Sec-Fetch-Site %q", clip(site)))
	}
	p := problem(http.StatusForbidden, title,
		fmt.Sprintf("%s %s would %s on behalf of another site's page (%s); only the node's own pages, "+
			"clients that send no Origin (the CLI, curl) and the origins in %s may do that",
			r.Method, clip(r.URL.Path), what, strings.Join(from, ", "), config))
	p.Ext = map[string]any{"origin": clip(origin), "config": config}
	if site != "" {
		p.Ext["sec_fetch_site"] = clip(site)
	}
	return p
}
