package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// client calls a sluice server.
type client struct {
	base string
	http *http.Client
}

func (g *globals) client() *client {
	base := strings.TrimRight(g.server, "/")
	host := ""
	if u, err := url.Parse(base); err == nil {
		host = u.Host
	}
	return &client{base: base, http: &http.Client{Transport: bearer{token: g.bearerToken(), host: host, next: g.transport()}}}
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
	return fmt.Errorf("%w (is `sluice serve` running at %s? set --server or SLUICE_SERVER)", err, c.base)
}
