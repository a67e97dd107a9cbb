package mediawiki

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrHostNotAllowed is why an event naming a wiki outside allowed_hosts
// fails: events must not make sluice call arbitrary addresses.
var ErrHostNotAllowed = errors.New("host not allowed")

// hostRule is one entry of allowed_hosts.
type hostRule struct {
	host   string // lower case; with a port if given
	suffix bool   // "*.host": host and all its subdomains
}

type hostRules []hostRule

// parseHosts checks the allowed_hosts entries.
func parseHosts(entries []string) (hostRules, error) {
	if len(entries) == 0 {
		return nil, errors.New("allowed_hosts: must name at least one host (leave it out for Wikimedia's domains)")
	}
	rules := make(hostRules, 0, len(entries))
	for i, e := range entries {
		h := strings.ToLower(strings.TrimSpace(e))
		r := hostRule{host: h}
		if rest, ok := strings.CutPrefix(h, "*."); ok {
			r = hostRule{host: rest, suffix: true}
		}
		if err := checkHostEntry(r); err != nil {
			return nil, fmt.Errorf("allowed_hosts[%d]: %q: %w", i, e, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func checkHostEntry(r hostRule) error {
	if r.host == "" {
		return errors.New("empty host")
	}
	if strings.Contains(r.host, "*") {
		return errors.New(`a wildcard is allowed only as a leading "*." (e.g. "*.wikipedia.org")`)
	}
	u, err := url.Parse("//" + r.host)
	if err != nil || u.Host != r.host || u.User != nil || u.Hostname() == "" {
		return errors.New(`want a host ("en.wikipedia.org", "127.0.0.1:8093") or "*.domain", without scheme or path`)
	}
	if r.suffix && u.Port() != "" {
		return errors.New(`a "*." rule matches host names: leave out the port`)
	}
	return nil
}

// check refuses a URL whose scheme or host is not allowed. https is allowed
// for any allowed host, http only for a host listed exactly.
func (rs hostRules) check(u *url.URL) error {
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("%w: scheme %q (want https)", ErrHostNotAllowed, u.Scheme)
	}
	if u.User != nil {
		return fmt.Errorf("%w: user information in the URL", ErrHostNotAllowed)
	}
	host, name := strings.ToLower(u.Host), strings.ToLower(u.Hostname())
	suffixed := false
	for _, r := range rs {
		switch {
		case !r.suffix && r.host == host:
			return nil
		case r.suffix && u.Port() == "" && (name == r.host || strings.HasSuffix(name, "."+r.host)):
			if u.Scheme == "https" {
				return nil
			}
			suffixed = true
		}
	}
	if suffixed {
		return fmt.Errorf("%w: http://%s: http is allowed only for hosts listed exactly in allowed_hosts; use https", ErrHostNotAllowed, host)
	}
	return fmt.Errorf("%w: %q is not in allowed_hosts", ErrHostNotAllowed, host)
}

// endpoint is the API URL of the wiki an event names: server_url +
// server_script_path + "/api.php", if its host is allowed.
func (rs hostRules) endpoint(serverURL, scriptPath string) (*url.URL, error) {
	base, err := url.Parse(serverURL)
	if err != nil || base.Host == "" || base.RawQuery != "" || base.ForceQuery || base.Fragment != "" || base.Opaque != "" {
		return nil, fmt.Errorf("server_url: %q is not an absolute http(s) URL without query", serverURL)
	}
	if err := rs.check(base); err != nil {
		return nil, fmt.Errorf("server_url: %w", err)
	}
	if scriptPath != "" && (!strings.HasPrefix(scriptPath, "/") || strings.ContainsAny(scriptPath, "?#@\\%") ||
		strings.Contains(scriptPath, "//") || strings.Contains("/"+scriptPath+"/", "/../")) {
		return nil, fmt.Errorf("server_script_path: %q is not a plain path like \"/w\"", scriptPath)
	}
	u, err := url.Parse(strings.TrimRight(serverURL, "/") + scriptPath + "/api.php")
	if err != nil || !strings.EqualFold(u.Host, base.Host) {
		return nil, fmt.Errorf("server_url and server_script_path: %q + %q is no URL on %s", serverURL, scriptPath, base.Host)
	}
	if err := rs.check(u); err != nil {
		return nil, fmt.Errorf("server_url: %w", err)
	}
	u.Host = strings.ToLower(u.Host)
	return u, nil
}

// parseAPIBase checks api_base: empty, or an http(s) URL without query on a
// loopback address or on a host listed exactly in allowed_hosts.
func (rs hostRules) parseAPIBase(v string) (*url.URL, error) {
	if v == "" {
		return nil, nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf(`api_base: %q: want an http(s) URL without query, e.g. "http://127.0.0.1:8093"`, v)
	}
	if !loopback(u.Hostname()) && !rs.exact(u.Host) {
		return nil, fmt.Errorf("api_base: %q: the host must be a loopback address or listed exactly in allowed_hosts", v)
	}
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// exact reports whether host (with its port, if any) is listed exactly.
func (rs hostRules) exact(host string) bool {
	host = strings.ToLower(host)
	for _, r := range rs {
		if !r.suffix && r.host == host {
			return true
		}
	}
	return false
}

// rebase moves the API URL of a wiki under base: <base>/<host><path>.
func rebase(base, api *url.URL) *url.URL {
	u := *base
	u.Path = base.Path + "/" + api.Host + api.Path
	return &u
}
