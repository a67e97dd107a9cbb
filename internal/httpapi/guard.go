package httpapi

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// GuardOptions configure Guard.
type GuardOptions struct {
	Access
	// Listen is the node's listen address: if it names a host, that name is
	// served as well.
	Listen string
	// BodyTimeout bounds the reading of a request body (default 60 s).
	BodyTimeout time.Duration
	Logger      *slog.Logger
}

// DefaultBodyTimeout is the default of GuardOptions.BodyTimeout: a body of
// 32 MiB (the default request limit) needs about 0.5 MB/s.
const DefaultBodyTimeout = 60 * time.Second

// Guard wraps the node's whole handler (the API and the UI) in the checks
// every request passes before it is served, outermost first:
//
//   - the body's read deadline (408 when it passes), set before anything
//     else so that even a refused request's body, which the server drains
//     after the answer, cannot be trickled forever;
//   - the Host allow-list (421), against DNS rebinding;
//   - CORS for the API, so the configured origins' pages can read it;
//   - cross-origin protection (403): a browser request that changes state
//     must come from the node's own pages or a trusted origin, and one that
//     reads the API from another site's page must come from an origin
//     allowed to read.
func Guard(next http.Handler, o GuardOptions) (http.Handler, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if err := o.Access.Validate(); err != nil {
		return nil, err
	}
	rules, _ := hostRules(o.Hosts)
	if host, _, err := net.SplitHostPort(o.Listen); err == nil && host != "" && net.ParseIP(host) == nil {
		rules = append(rules, hostRule{Name: strings.TrimSuffix(strings.ToLower(host), ".")})
	}
	trusted, _ := parseOrigins(o.TrustedOrigins)
	readers, _ := parseOrigins(o.CORSOrigins)
	g := &guard{log: o.Logger, hosts: rules, bodyTimeout: o.BodyTimeout, csrf: http.NewCrossOriginProtection(),
		readers: map[string]bool{}}
	for _, origin := range readers {
		g.readers[origin] = true
	}
	for _, origin := range trusted {
		g.readers[origin] = true
		if err := g.csrf.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("trusted_origins: %w", err)
		}
	}
	h := g.crossOrigin(next)
	h = withCORS(h, trusted, readers)
	h = g.host(h)
	return g.bodyDeadline(h), nil
}

type guard struct {
	log         *slog.Logger
	hosts       []hostRule
	bodyTimeout time.Duration
	csrf        *http.CrossOriginProtection
	readers     map[string]bool // origins that may read the API ("*": any)
}

// host refuses requests whose Host the node does not answer to.
func (g *guard) host(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hostAllowed(g.hosts, r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		g.log.Debug("request refused: host not served", "host", r.Host, "method", r.Method, "path", r.URL.Path)
		// 421 rather than 403: the request is not forbidden to its sender,
		// it is addressed to a name this server does not serve, which is
		// what 421 means (RFC 9110 15.5.20); it also tells the two
		// refusals apart in logs and clients.
		p := problem(http.StatusMisdirectedRequest, "Host not served",
			fmt.Sprintf("this node does not answer to the host %q; add the name to http.hosts in the config "+
				"(localhost and IP addresses are always served)", clip(r.Host)))
		p.Ext = map[string]any{"host": clip(r.Host), "config": "http.hosts"}
		refuse(w, r, g.log, p)
	})
}

// refuse answers a problem before the request is served; the body, if
// any, is never read, so the connection is not kept for another request.
func refuse(w http.ResponseWriter, r *http.Request, log *slog.Logger, p *Problem) {
	if r.Body != nil && r.Body != http.NoBody {
		w.Header().Set("Connection", "close")
	}
	writeProblem(w, r, log, p)
}

// clip keeps what a request said short in an answer.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
