// Package httpfn is the function kind "http": sluice POSTs each invocation
// (docs/FUNCTIONS.md) to the operator's URL and reads the answer. The URL
// and the headers come only from the config: an invoke request cannot
// change where traffic goes, and redirects are not followed. An endpoint
// that is unavailable (connection errors, 429, 502, 503, 504) is tried
// again with backoff; a 5xx, a timeout, or a 400/413/422 fails the
// invocation as a whole, which package invocation bisects; another 3xx or
// 4xx is the batch's error.
package httpfn

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/invocation"
)

// Settings are the http: settings of a named function.
type Settings struct {
	URL         string            `json:"url"`
	Headers     map[string]string `json:"headers,omitempty"`
	Timeout     string            `json:"timeout,omitempty"`
	Concurrency int               `json:"concurrency,omitempty"`
	MaxAttempts int               `json:"max_attempts,omitempty"`
}

// Defaults.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultMaxAttempts = 5
	maxConcurrency     = 64
)

// Kind registers the kind as "http".
var Kind = invocation.Kind{
	Name: "http",
	Doc:  "POSTs each invocation as JSON to the operator's URL and reads the answer.",
	Fields: []function.Field{
		{Name: "url", Type: "string", Required: true, Doc: "http:// or https://; redirects are not followed"},
		{Name: "headers", Type: "map[string]string", Doc: "sent with every request; values may use ${VAR} from sluice's environment"},
		{Name: "timeout", Type: "duration", Default: "30s", Doc: "per request"},
		{Name: "concurrency", Type: "int", Default: 1, Doc: "requests in flight at once (1 to 64)"},
		{Name: "max_attempts", Type: "int", Default: DefaultMaxAttempts, Doc: "attempts of a request while the endpoint is unavailable (connection errors, 429, 502, 503, 504)"},
	},
	New: func(name string, raw map[string]any, env invocation.Env) (invocation.Invoker, any, error) {
		var s Settings
		if err := function.DecodeConfig(raw, &s); err != nil {
			return nil, nil, fmt.Errorf("%s.%w", env.Path, err)
		}
		c, err := s.check(env)
		if err != nil {
			return nil, nil, err
		}
		return newClient(c), s.shown(c), nil
	},
}

// config is a checked http function.
type config struct {
	url         *url.URL
	headers     http.Header
	timeout     time.Duration
	concurrency int
	maxAttempts int
}

func (s Settings) check(env invocation.Env) (config, error) {
	var errs []string
	add := func(field, format string, args ...any) {
		errs = append(errs, env.Path+"."+field+": "+fmt.Sprintf(format, args...))
	}
	c := config{timeout: DefaultTimeout, concurrency: s.Concurrency, maxAttempts: s.MaxAttempts, headers: http.Header{}}
	u, err := url.Parse(s.URL)
	switch {
	case s.URL == "":
		add("url", "required: http:// or https://")
	case err != nil:
		add("url", "%v", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		add("url", "%q: want http://host/... or https://host/...", s.URL)
	case u.User != nil:
		add("url", "credentials do not go in the URL: put them in headers, with ${VAR}")
	default:
		c.url = u
	}
	if s.Timeout != "" {
		d, err := time.ParseDuration(s.Timeout)
		if err != nil || d <= 0 || d > 15*time.Minute {
			add("timeout", "%q: want a duration from 1ms to 15m, such as 30s", s.Timeout)
		}
		c.timeout = d
	}
	if c.concurrency == 0 {
		c.concurrency = 1
	} else if c.concurrency < 1 || c.concurrency > maxConcurrency {
		add("concurrency", "want 1 to %d, got %d", maxConcurrency, c.concurrency)
	}
	if c.maxAttempts == 0 {
		c.maxAttempts = DefaultMaxAttempts
	} else if c.maxAttempts < 1 || c.maxAttempts > 100 {
		add("max_attempts", "want 1 to 100, got %d", c.maxAttempts)
	}
	for _, k := range sortedKeys(s.Headers) {
		if k == "" || strings.ContainsAny(k, " :\r\n\t") {
			add("headers", "%q is not a header name", k)
			continue
		}
		v, err := invocation.Expand(s.Headers[k], env.Getenv)
		if err != nil {
			add("headers."+k, "%v", err)
			continue
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			add("headers."+k, "the value has a line break or a NUL")
			continue
		}
		c.headers.Set(k, v)
	}
	if len(errs) > 0 {
		return config{}, errors.New(strings.Join(errs, "; "))
	}
	return c, nil
}

// shown is what GET /v1/functions shows: the settings in effect (the
// defaults filled in), no header values but ${VAR} references, no query
// string (either may hold a secret).
func (s Settings) shown(c config) Settings {
	out := s
	out.Timeout, out.Concurrency, out.MaxAttempts = c.timeout.String(), c.concurrency, c.maxAttempts
	if u, err := url.Parse(s.URL); err == nil && u.RawQuery != "" {
		u.RawQuery = "(set)"
		out.URL = u.String()
	}
	if len(s.Headers) > 0 {
		out.Headers = map[string]string{}
		for k, v := range s.Headers {
			out.Headers[k] = "(set)"
			if onlyVars(v) {
				out.Headers[k] = v
			}
		}
	}
	return out
}

func onlyVars(s string) bool {
	if !invocation.HasVars(s) {
		return false
	}
	rest, _ := invocation.Expand(s, func(string) string { return " " })
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), "Bearer")) == ""
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
