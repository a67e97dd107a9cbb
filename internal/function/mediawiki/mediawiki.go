// Package mediawiki is the function "mediawiki.page_images": for each
// Wikimedia recentchange event, the list of images (files) its page shows,
// asked of the event's own wiki's Action API (server_url +
// server_script_path + "/api.php"), never of a fixed wiki.
//
// In mode "current" it asks action=query&prop=images for the page as it is
// now, batching up to batch_size titles of one wiki per request, following
// continuation, normalization and redirects. In mode "revision" it asks
// action=parse&oldid=REV&prop=images for the exact revision of the event,
// one request per revision.
//
// Only hosts in allowed_hosts are called, so an event cannot make sluice
// call an arbitrary address; allowed_hosts and api_base are operator fields
// (function.Field.Operator), so neither can an invoke request. Requests carry the configured User-Agent and
// maxlag, wait out maxlag and 429 answers (Retry-After), back off on 5xx and
// network errors, and are limited per wiki in concurrency and, optionally,
// rate.
package mediawiki

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/sluice-dev/sluice/internal/function"
)

// Name is the function's registered name.
const Name = "mediawiki.page_images"

// OutputStream is the meta.stream of every output event.
const OutputStream = "wiki.page_images"

// Modes.
const (
	ModeCurrent  = "current"  // the page's images now (action=query&prop=images)
	ModeRevision = "revision" // the images of the event's revision (action=parse&oldid=)
)

// DefaultAllowedHosts are Wikimedia's project domains, each with all its
// subdomains.
var DefaultAllowedHosts = []string{
	"*.wikipedia.org", "*.wikimedia.org", "*.wikidata.org", "*.wiktionary.org",
	"*.wikibooks.org", "*.wikinews.org", "*.wikiquote.org", "*.wikisource.org",
	"*.wikiversity.org", "*.wikivoyage.org", "*.mediawiki.org",
}

// Config is the function's config.
type Config struct {
	// Mode is "current" (the page's images now) or "revision" (the images
	// of the event's revision).
	Mode string `json:"mode"`
	// UserAgent is sent with every request; Wikimedia requires a name,
	// version and contact.
	UserAgent string `json:"user_agent"`
	// AllowedHosts are the hosts that may be called: exact ("en.wikipedia.org",
	// "127.0.0.1:8093") or "*.suffix" for a domain and all its subdomains.
	// http:// is allowed only for hosts listed exactly.
	AllowedHosts []string `json:"allowed_hosts"`
	// MaxConcurrencyPerWiki bounds the requests in flight to one wiki.
	MaxConcurrencyPerWiki int `json:"max_concurrency_per_wiki"`
	// RatePerWiki bounds the requests per second to one wiki; 0 is unlimited.
	RatePerWiki float64 `json:"rate_per_wiki"`
	// BatchSize is the most titles asked in one request (1 to 50).
	BatchSize int `json:"batch_size"`
	// Linger is how long a partial batch waits for titles of the same wiki
	// from concurrent calls.
	Linger string `json:"linger"`
	// MaxAttempts bounds the attempts of one request.
	MaxAttempts int `json:"max_attempts"`
	// Timeout bounds one HTTP request.
	Timeout string `json:"timeout"`
	// Maxlag is sent as maxlag=N: the API refuses to answer while its
	// replicas lag more than N seconds, and the request is retried later.
	Maxlag int `json:"maxlag"`
	// APIBase, if set, sends every wiki's requests to
	// <api_base>/<wiki host><server_script_path>/api.php instead of the
	// event's server_url (whose host must still be allowed): the simulated
	// API of `sluice mediawiki-sim` for demos and tests, or a caching proxy.
	// It must be http(s) on a loopback address or on a host listed exactly
	// in allowed_hosts.
	APIBase string `json:"api_base"`
}

// DefaultConfig is the config with every default filled in (and no
// user agent).
func DefaultConfig() Config {
	return Config{
		Mode:                  ModeCurrent,
		AllowedHosts:          append([]string(nil), DefaultAllowedHosts...),
		MaxConcurrencyPerWiki: 2,
		BatchSize:             50,
		Linger:                "200ms",
		MaxAttempts:           6,
		Timeout:               "30s",
		Maxlag:                5,
	}
}

// Spec registers the function as "mediawiki.page_images".
var Spec = function.Spec{
	Name: Name,
	Doc: "For each Wikimedia recentchange event, the images its page shows, asked of the event's own wiki " +
		"(server_url + server_script_path + /api.php): one output per event with page_id, image_list (sorted " +
		`"File:..." titles), missing, the event's wiki, domain, title, rev_id and time, and meta.stream ` +
		OutputStream + ". Page deletions (log/delete) give missing, with the id the page had from its deletion log entry (list=logevents).",
	Fields: []function.Field{
		{Name: "mode", Type: "string", Default: ModeCurrent,
			Doc: `"current": the page's images now (action=query&prop=images, batched); "revision": the images of the event's revision.new (action=parse&oldid=, one request each)`},
		{Name: "user_agent", Type: "string", Required: true,
			Doc: `sent with every request; Wikimedia blocks generic agents: give a name, version and contact, e.g. "sluice-wiki-images/1.0 (https://example.org/contact; ops@example.org)"`},
		{Name: "allowed_hosts", Type: "[]string", Default: DefaultAllowedHosts, Operator: true,
			Doc: `hosts that may be called: exact ("en.wikipedia.org", "127.0.0.1:8093") or "*.suffix" (the domain and its subdomains, no port); https for any, http only for exact entries. Operator only: set in the node's config (a pipeline's function config), never by an invoke request`},
		{Name: "max_concurrency_per_wiki", Type: "int", Default: 2, Doc: "requests in flight to one wiki at most"},
		{Name: "rate_per_wiki", Type: "float", Default: 0, Doc: "requests per second to one wiki at most; 0 is unlimited"},
		{Name: "batch_size", Type: "int", Default: 50, Doc: "titles per request in mode current (1 to 50)"},
		{Name: "linger", Type: "duration", Default: "200ms",
			Doc: "how long a partial batch waits for titles of the same wiki from concurrent calls (a call running alone never waits)"},
		{Name: "max_attempts", Type: "int", Default: 6,
			Doc: "attempts per request, across 5xx, network errors, timeouts, 429 and maxlag; then the event fails"},
		{Name: "timeout", Type: "duration", Default: "30s", Doc: "bound on one HTTP request"},
		{Name: "maxlag", Type: "int", Default: 5, Doc: "seconds of replica lag above which the API asks to come back later"},
		{Name: "api_base", Type: "string", Default: "", Operator: true,
			Doc: `send every wiki's requests to <api_base>/<wiki host><server_script_path>/api.php instead of the event's server_url (whose host must still be allowed), e.g. "http://127.0.0.1:8093" for sluice mediawiki-sim; http(s) on a loopback address or on a host listed exactly in allowed_hosts. Operator only, like allowed_hosts`},
	},
	New: func(config map[string]any) (function.Function, error) {
		c := DefaultConfig()
		if err := function.DecodeConfig(config, &c); err != nil {
			return nil, err
		}
		return New(c)
	},
}

// settings is a validated Config.
type settings struct {
	mode        string
	userAgent   string
	hosts       hostRules
	concurrency int
	rate        float64
	batchSize   int
	linger      time.Duration
	maxAttempts int
	timeout     time.Duration
	maxlag      int
	apiBase     *url.URL // nil: each event's own server_url
}

// validate checks c; errors name the field.
func (c Config) validate() (settings, error) {
	s := settings{mode: c.Mode, userAgent: strings.TrimSpace(c.UserAgent), concurrency: c.MaxConcurrencyPerWiki,
		rate: c.RatePerWiki, batchSize: c.BatchSize, maxAttempts: c.MaxAttempts, maxlag: c.Maxlag}
	var err error
	switch {
	case s.mode != ModeCurrent && s.mode != ModeRevision:
		return s, fmt.Errorf("mode: must be %q or %q, got %q", ModeCurrent, ModeRevision, c.Mode)
	case s.userAgent == "":
		return s, errors.New(`user_agent: required: Wikimedia blocks generic agents; give a name, version and contact, e.g. "sluice-wiki-images/1.0 (https://example.org/contact; ops@example.org)"`)
	case strings.ContainsFunc(s.userAgent, unicode.IsControl):
		return s, errors.New("user_agent: must not contain control characters")
	case s.concurrency < 1:
		return s, fmt.Errorf("max_concurrency_per_wiki: must be at least 1, got %d", s.concurrency)
	case s.rate < 0:
		return s, fmt.Errorf("rate_per_wiki: must be 0 (unlimited) or more, got %g", s.rate)
	case s.batchSize < 1 || s.batchSize > 50:
		return s, fmt.Errorf("batch_size: must be 1 to 50, got %d", s.batchSize)
	case s.maxAttempts < 1:
		return s, fmt.Errorf("max_attempts: must be at least 1, got %d", s.maxAttempts)
	case s.maxlag < 1:
		return s, fmt.Errorf("maxlag: must be at least 1 (second), got %d", s.maxlag)
	}
	if s.linger, err = duration("linger", c.Linger, true); err != nil {
		return s, err
	}
	if s.timeout, err = duration("timeout", c.Timeout, false); err != nil {
		return s, err
	}
	if s.hosts, err = parseHosts(c.AllowedHosts); err != nil {
		return s, err
	}
	if s.apiBase, err = s.hosts.parseAPIBase(c.APIBase); err != nil {
		return s, err
	}
	return s, nil
}

// duration parses a duration field; zero is allowed only if zeroOK.
func duration(field, v string, zeroOK bool) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%s: want a duration like \"200ms\" or \"30s\", got %q", field, v)
	case d < 0 && zeroOK:
		return 0, fmt.Errorf("%s: must not be negative, got %q", field, v)
	case d <= 0 && !zeroOK:
		return 0, fmt.Errorf("%s: must be positive, got %q", field, v)
	}
	return d, nil
}
