// Package eventsource is the source kind that reads a Server-Sent Events
// feed such as Wikimedia EventStreams: it resumes with Last-Event-ID (or
// starts at `since`), reconnects with exponential backoff and jitter,
// honours 429 Retry-After, and treats a silent connection as a dead one.
package eventsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/sluice-dev/sluice/internal/field"
	"github.com/sluice-dev/sluice/internal/source"
	"github.com/sluice-dev/sluice/internal/sse"
)

// Config is the `sse:` block of a source.
type Config struct {
	URL string `yaml:"url,omitempty" json:"url"`
	// Since is where to start when the source has no stored position:
	// "latest" (default), an RFC 3339 time or unix milliseconds.
	Since string `yaml:"since,omitempty" json:"since,omitempty"`
	// UserAgent is required: Wikimedia blocks generic agents; say who you are and how to reach you.
	UserAgent string `yaml:"user_agent,omitempty" json:"user_agent"`
	// IdleTimeout: no bytes for this long means a dead connection (default 60s).
	IdleTimeout time.Duration `yaml:"idle_timeout,omitempty" json:"idle_timeout,omitempty"`
	// MaxEventBytes bounds one event (default 4 MiB); bigger ones are skipped and reported.
	MaxEventBytes int `yaml:"max_event_bytes,omitempty" json:"max_event_bytes,omitempty"`
	// MaxBackoff caps the wait between reconnects (default 60s).
	MaxBackoff time.Duration `yaml:"max_backoff,omitempty" json:"max_backoff,omitempty"`
}

// Validate checks the config; errors name the field.
func (c *Config) Validate() error { return c.Check().Err() }

// Check lists the config's problems, each at its field.
func (c *Config) Check() field.Errors {
	var errs field.Errors
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs.Add("url", "%q: want an http(s) URL", c.URL)
	}
	if strings.TrimSpace(c.UserAgent) == "" {
		errs.Add("user_agent", `required (e.g. "sluice/0.1 (https://example.org/contact; ops@example.org)"): feeds such as Wikimedia's block generic agents`)
	}
	if c.Since != "" && c.Since != "latest" {
		if _, err := sinceParam(c.Since); err != nil {
			errs.Add("since", "%v", err)
		}
	}
	for f, v := range map[string]int64{"idle_timeout": int64(c.IdleTimeout), "max_backoff": int64(c.MaxBackoff), "max_event_bytes": int64(c.MaxEventBytes)} {
		if v < 0 {
			errs.Add(f, "cannot be negative")
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Path < errs[j].Path })
	return errs
}

// Kind is the sse source kind: an EventStreams (Server-Sent Events) feed.
var Kind = source.Kind{
	Name: "sse",
	Doc:  "a Server-Sent Events feed (Wikimedia EventStreams): resumes after the last stored event with Last-Event-ID",
	Fields: []source.Field{
		{Name: "url", Type: "string", Required: true, Doc: "the feed's http(s) URL"},
		{Name: "user_agent", Type: "string", Required: true, Doc: "who you are and how to reach you (Wikimedia blocks generic agents)"},
		{Name: "since", Type: "string", Doc: "where to start without a stored position: latest (default), an RFC 3339 time or unix ms"},
		{Name: "idle_timeout", Type: "duration", Doc: "no bytes for this long means a dead connection (default 60s)"},
		{Name: "max_event_bytes", Type: "integer", Doc: "bigger events are skipped and reported (default 4 MiB)"},
		{Name: "max_backoff", Type: "duration", Doc: "the longest wait between reconnects (default 60s)"},
	},
	Check: func(settings any) field.Errors {
		var c Config
		if err := source.DecodeSettings(settings, &c); err != nil {
			return field.Errors{{Message: err.Error()}}
		}
		return c.Check()
	},
	New: func(name string, settings any, env source.Env) (source.Feed, error) {
		var c Config
		if err := source.DecodeSettings(settings, &c); err != nil {
			return nil, err
		}
		return New(name, c, env.Log), nil
	},
}

func sinceParam(s string) (string, error) {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return s, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", fmt.Errorf("%q is not latest, an RFC 3339 time or unix milliseconds", s)
	}
	return t.UTC().Format(time.RFC3339Nano), nil
}

// Feed reads an SSE feed.
type Feed struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	name   string
}

// New makes a feed; Validate the config first.
func New(name string, cfg Config, log *slog.Logger) *Feed {
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.MaxEventBytes == 0 {
		cfg.MaxEventBytes = 4 << 20
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// No overall timeout: a feed is one long response. The idle timer ends dead ones.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 30 * time.Second
	return &Feed{cfg: cfg, name: name, log: log, client: &http.Client{Transport: tr}}
}

// Run connects, reads and reconnects until ctx ends. Every connection
// resumes after the last event delivered (from's at first): with a
// timestamp id it asks for a millisecond earlier and skips what it had
// (see resume.go).
func (f *Feed) Run(ctx context.Context, from source.Resume, out chan<- source.Item, st *source.Status) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.RandomizationFactor = min(time.Second, f.cfg.MaxBackoff), f.cfg.MaxBackoff, 0.5
	last := from
	hinted := false // the log says offlineHint once; the status, while it holds
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			st.Reconnected()
		}
		st.Set(source.Connecting)
		got, wait, err := f.session(ctx, last, out, st)
		if got.Position != "" {
			last = got
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			attrs := []any{"source", f.name, "err", err, "last_id", last.Position}
			if hint := f.offlineHint(err); hint != "" {
				st.Error(fmt.Errorf("%w (%s)", err, hint))
				if !hinted {
					attrs, hinted = append(attrs, "hint", hint), true
				}
			} else {
				st.Error(err)
			}
			f.log.Warn("feed interrupted", attrs...)
		}
		if got.Position != "" {
			b.Reset() // the connection delivered: start the backoff over
		}
		if wait == 0 {
			wait = b.NextBackOff()
		}
		st.BackOff(time.Now().Add(wait))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// offlineHint is advice for a feed of Wikimedia's whose host does not
// resolve: most likely this machine is offline, and the demo needs no network.
func (f *Feed) offlineHint(err error) string {
	var dns *net.DNSError
	u, _ := url.Parse(f.cfg.URL)
	if u == nil || !errors.As(err, &dns) || u.Hostname() != "wikimedia.org" && !strings.HasSuffix(u.Hostname(), ".wikimedia.org") {
		return ""
	}
	return "offline? `sluice demo` runs the same pipeline on a simulated feed"
}

// retryAfter reads a Retry-After header (seconds or an HTTP date).
func retryAfter(h string, fallback time.Duration) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return fallback
}

// session makes one connection and reads until it fails. It returns the
// last event delivered (its id and data) and, when the server said so, how
// long to wait.
func (f *Feed) session(ctx context.Context, from source.Resume, out chan<- source.Item, st *source.Status) (source.Resume, time.Duration, error) {
	var none source.Resume
	lastID := from.Position
	u, _ := url.Parse(f.cfg.URL)
	if lastID == "" && f.cfg.Since != "" && f.cfg.Since != "latest" {
		q := u.Query()
		since, _ := sinceParam(f.cfg.Since)
		q.Set("since", since)
		u.RawQuery = q.Encode()
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return none, 0, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	ov := newOverlap(resumeFrom{}, nil)
	if lastID != "" {
		rf := earlier(lastID)
		req.Header.Set("Last-Event-ID", rf.header)
		ov = newOverlap(rf, from.Last)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return none, 0, fmt.Errorf("connect: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return none, retryAfter(resp.Header.Get("Retry-After"), 5*time.Second), fmt.Errorf("429 too many requests")
	case resp.StatusCode >= 500:
		return none, retryAfter(resp.Header.Get("Retry-After"), 0), fmt.Errorf("server error %s", resp.Status)
	case resp.StatusCode != http.StatusOK:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		// A client error will not go away by itself: report it and retry slowly.
		return none, f.cfg.MaxBackoff, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	st.Set(source.Streaming)
	body := newIdleReader(resp.Body, f.cfg.IdleTimeout, cancel)
	defer body.stop()
	r := sse.NewReader(body, f.cfg.MaxEventBytes)
	var delivered source.Resume
	defer func() {
		if ov.skipped > 0 {
			f.log.Info("feed resumed a millisecond early; skipped what it had", "source", f.name, "skipped", ov.skipped)
		}
	}()
	for {
		e, err := r.Next()
		if errors.Is(err, sse.ErrTooLarge) {
			it := source.Item{Position: r.LastID(), Err: fmt.Errorf("event after %s: %w", delivered.Position, err)}
			if !deliver(ctx, out, it, body) {
				return delivered, 0, nil
			}
			continue
		}
		if err != nil {
			if body.idle() {
				err = fmt.Errorf("no data for %s: reconnecting", f.cfg.IdleTimeout)
			}
			return delivered, 0, err
		}
		switch e.Type {
		case "message":
			if e.ID == "" {
				e.ID = lastID // a feed without ids: resume is best effort
			}
			for _, ev := range ov.next(e.ID, e.Data) {
				if !deliver(ctx, out, source.Item{Data: []byte(ev[1]), Position: ev[0]}, body) {
					return delivered, 0, nil
				}
				delivered = source.Resume{Position: ev[0], Last: []byte(ev[1])}
			}
		case "error":
			err := fmt.Errorf("feed sent an error event: %.500s", e.Data)
			st.Error(err)
			f.log.Warn("feed error event", "source", f.name, "data", string(e.Data))
		}
	}
}

// deliver hands an item on. While the writer is busy (the queue is full),
// the idle timer is paused: a slow store is not a dead connection.
func deliver(ctx context.Context, out chan<- source.Item, it source.Item, body *idleReader) bool {
	select {
	case out <- it:
		return true
	default:
	}
	body.timer.Stop()
	defer body.timer.Reset(body.timeout)
	select {
	case out <- it:
		return true
	case <-ctx.Done():
		return false
	}
}

// idleReader cancels the request when no bytes arrive for a while.
type idleReader struct {
	r       io.Reader
	timeout time.Duration
	timer   *time.Timer
	once    sync.Once
	fired   chan struct{}
}

func newIdleReader(r io.Reader, timeout time.Duration, cancel context.CancelFunc) *idleReader {
	ir := &idleReader{r: r, timeout: timeout, fired: make(chan struct{})}
	ir.timer = time.AfterFunc(timeout, func() {
		ir.once.Do(func() { close(ir.fired) })
		cancel()
	})
	return ir
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.timer.Reset(ir.timeout)
	}
	return n, err
}

func (ir *idleReader) idle() bool {
	select {
	case <-ir.fired:
		return true
	default:
		return false
	}
}

func (ir *idleReader) stop() { ir.timer.Stop() }
