package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// client calls a sluice server.
type client struct {
	base string
	http *http.Client
	err  error // a bad --server: every call returns it
}

func (g *globals) client() *client {
	base, err := serverURL(g.server)
	host := ""
	if u, perr := url.Parse(base); perr == nil {
		host = u.Host
	}
	return &client{base: base, err: err, http: &http.Client{Transport: bearer{token: g.bearerToken(), host: host, next: g.transport()}}}
}

// serverURL reads --server: a URL (http or https), or HOST:PORT or :PORT
// for plain http (:PORT on 127.0.0.1, where serve listens by default).
func serverURL(s string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("--server (or SLUICE_SERVER) %q: %s; want http://HOST:PORT, https://HOST:PORT, HOST:PORT or :PORT", s, why)
	}
	v := strings.TrimSpace(s)
	if v == "" {
		return "", bad("empty")
	}
	if !strings.Contains(v, "://") {
		if strings.HasPrefix(v, ":") {
			v = "127.0.0.1" + v
		}
		v = "http://" + v
	}
	u, err := url.Parse(v)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", bad(err.Error())
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", bad("scheme " + u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return "", bad("no host")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "", bad("a query, fragment or user has no place in it")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", bad("port " + p)
		}
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// apiError is a problem document from the server.
type apiError struct {
	Status int
	Title  string
	Detail string
	Body   map[string]any
}

func (e *apiError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%s (%d): %s", e.Title, e.Status, e.Detail)
	}
	return fmt.Sprintf("%s (%d)", e.Title, e.Status)
}

func (c *client) do(ctx context.Context, method, path, contentType string, body []byte, out any) (*http.Response, error) {
	if c.err != nil {
		return nil, c.err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("X-Sluice-User", whoami())
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, unreachable(c, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, err
	}
	if resp.StatusCode >= 400 {
		return resp, decodeProblem(resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
		}
	}
	return resp, nil
}

func decodeProblem(status int, data []byte) error {
	e := &apiError{Status: status, Title: http.StatusText(status)}
	if json.Unmarshal(data, &e.Body) == nil {
		if t, ok := e.Body["title"].(string); ok {
			e.Title = t
		}
		if d, ok := e.Body["detail"].(string); ok {
			e.Detail = d
		}
	} else {
		e.Detail = strings.TrimSpace(string(data))
	}
	return e
}

func (c *client) getJSON(ctx context.Context, path string, out any) error {
	_, err := c.do(ctx, http.MethodGet, path, "", nil, out)
	return err
}

func (c *client) sendJSON(ctx context.Context, method, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, method, path, "application/json", body, out)
	return err
}

// unreachable explains a failed connection.
func unreachable(c *client, err error) error {
	return &unreachableError{base: c.base, err: err}
}

// unreachableError is a request that got no answer: why, and what to try.
type unreachableError struct {
	base string
	err  error
	hint string // the command's own advice, instead of the usual one
}

func (e *unreachableError) Unwrap() error { return e.err }

func (e *unreachableError) Error() string {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(e.err, &cv) || errors.As(e.err, &ua) || errors.As(e.err, &hn) || errors.As(e.err, &ci):
		return fmt.Sprintf("%v (the certificate of %s did not verify: if its CA is your own, pass it with --ca FILE or SLUICE_CA)", e.err, e.base)
	case strings.Contains(e.err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Sprintf("%v (the node at %s speaks http: use http:// in --server)", e.err, e.base)
	case e.hint != "":
		return fmt.Sprintf("%v (%s)", e.err, e.hint)
	}
	return fmt.Sprintf("%v (is `sluice serve` running at %s? set --server or SLUICE_SERVER)", e.err, e.base)
}
