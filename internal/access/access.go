// Package access says who may use a node over HTTP beside its own pages:
// the host names it answers to and the origins whose pages may call it
// (docs/HTTP.md). The HTTP guard (package httpapi) enforces it; config
// reads it.
package access

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Access says which browsers' requests the node serves beyond its own
// pages. Requests without an Origin (the CLI, curl, scripts) are not
// concerned: a browser is the only client that carries a page's identity,
// and the only one an attacker can borrow.
type Access struct {
	// Hosts are the names the node answers to beside localhost, IP addresses
	// and its listen address: "sluice.example.org", or "*.example.org" for
	// the domain and its subdomains; any port. A request naming another Host
	// is refused (421), which defeats DNS rebinding: a page of an attacker's
	// domain that resolves to the node is same-origin to the browser, but its
	// requests carry the attacker's name.
	Hosts []string
	// TrustedOrigins are origins ("https://admin.example.org") whose pages
	// may change state (POST, PUT, DELETE) and read, with CORS.
	TrustedOrigins []string
	// CORSOrigins are origins whose pages may read (GET) the API, with CORS;
	// "*" allows any page to read.
	CORSOrigins []string
}

// Validate checks every entry; errors name the key and index
// ("hosts[1]: ...").
func (a Access) Validate() error {
	var errs []error
	for i, h := range a.Hosts {
		if _, err := ParseHostPattern(h); err != nil {
			errs = append(errs, fmt.Errorf("hosts[%d]: %w", i, err))
		}
	}
	for i, o := range a.TrustedOrigins {
		if o == "*" {
			errs = append(errs, fmt.Errorf(`trusted_origins[%d]: "*" would let any web page change state; list the origins`, i))
			continue
		}
		if _, err := ParseOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("trusted_origins[%d]: %w", i, err))
		}
	}
	for i, o := range a.CORSOrigins {
		if o == "*" {
			continue
		}
		if _, err := ParseOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("cors_origins[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// HostRule is one entry of Hosts.
type HostRule struct {
	Name   string // lower case, no port
	suffix bool   // "*.name": the name and its subdomains
}

// ParseHostPattern checks an entry of Hosts and returns it in lower case.
func ParseHostPattern(s string) (string, error) {
	p := strings.ToLower(strings.TrimSpace(s))
	name := strings.TrimPrefix(p, "*.")
	u, err := url.Parse("//" + name)
	switch {
	case name == "":
		return "", fmt.Errorf("%q: empty host name", s)
	case strings.Contains(name, "*"):
		return "", fmt.Errorf(`%q: a wildcard is allowed only as a leading "*." (e.g. "*.example.org")`, s)
	case err != nil || u.Host != name || u.User != nil || u.Port() != "" || u.Hostname() != name:
		return "", fmt.Errorf(`%q: want a host name such as "sluice.example.org" or "*.example.org", without scheme, port or path`, s)
	}
	return p, nil
}

func HostRules(patterns []string) ([]HostRule, error) {
	rules := make([]HostRule, 0, len(patterns))
	for _, s := range patterns {
		p, err := ParseHostPattern(s)
		if err != nil {
			return nil, err
		}
		name, suffix := strings.CutPrefix(p, "*.")
		rules = append(rules, HostRule{Name: name, suffix: suffix})
	}
	return rules, nil
}

// hostAllowed reports whether a request's Host names this node. IP
// addresses always do: DNS rebinding needs a name the attacker controls,
// and a page can only carry an IP address as its Host if it was served by
// that address, i.e. by the node itself. "localhost" always does: browsers
// resolve it to loopback themselves. No Host at all (HTTP/1.0) comes from
// no browser.
func HostAllowed(rules []HostRule, host string) bool {
	if host == "" {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.ToLower(strings.Trim(name, "[]")), ".")
	if _, err := netip.ParseAddr(name); err == nil || name == "localhost" {
		return true
	}
	for _, r := range rules {
		if name == r.Name || (r.suffix && strings.HasSuffix(name, "."+r.Name)) {
			return true
		}
	}
	return false
}

// ParseOrigin checks an origin ("https://dash.example.org", "http://127.0.0.1:3000")
// and returns it as browsers send it in the Origin header: lower case,
// without a default port.
func ParseOrigin(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	switch {
	case err != nil:
		return "", fmt.Errorf("%q: %w", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf(`%q: want an origin such as "https://dash.example.org" (http or https)`, s)
	case u.Host == "" || u.User != nil || u.Opaque != "":
		return "", fmt.Errorf(`%q: want an origin such as "https://dash.example.org": a scheme and a host`, s)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf(`%q: an origin has no path, query or fragment: "%s://%s"`, s, u.Scheme, u.Host)
	case strings.Contains(u.Host, "*"):
		return "", fmt.Errorf("%q: origins are matched exactly; list each one (or \"*\" in cors_origins for any)", s)
	}
	host := strings.ToLower(u.Host)
	if port := u.Port(); (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		host = strings.TrimSuffix(host, ":"+port)
	}
	return u.Scheme + "://" + host, nil
}

func ParseOrigins(list []string) ([]string, error) {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if s == "*" {
			out = append(out, s)
			continue
		}
		o, err := ParseOrigin(s)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}
