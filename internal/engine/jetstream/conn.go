package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-dev/sluice/internal/engine"
)

// link follows the connection to an external NATS: whether it is up, and
// why not. The client connects in the background (from the first attempt
// on, nats.RetryOnFailedConnect) and reconnects for ever, so a node starts
// while NATS is down, and works as soon as it comes up; meanwhile every
// operation fails at once with unreachableError instead of waiting for an
// answer that cannot come. A connection that was up and just broke gets
// reconnectGrace first: the client moves to another server of a cluster
// in milliseconds, and an operation then waits for that, not fails.
// A server that refuses sluice's credentials is no outage: the client
// gives up after the second "no" (nats.go's default), and from then on
// every operation fails with a RefusedError naming them.
type link struct {
	url   string // as it may be logged: no user or password
	creds string // sluice's identity as errors name it (Credentials.String)
	log   *slog.Logger

	mu        sync.Mutex
	nc        *nats.Conn
	everUp    bool
	downSince time.Time     // when a connection that was up went down; zero while up
	upCh      chan struct{} // closed, and replaced, when the connection comes up
	lost      error         // why the last attempt failed; nil while connected
	warned    bool          // the current outage was logged at warning level
	refusal   *RefusedError // the server refused the credentials; the client gave up
}

// reconnectGrace is how long an operation waits for a connection that
// broke to be made again (to any server of the URL) before it fails.
const reconnectGrace = time.Second

func newLink(rawURL string, creds Credentials, log *slog.Logger) *link {
	return &link{url: redactURL(rawURL), creds: creds.String(), log: log, upCh: make(chan struct{})}
}

// options are the connection's handlers that keep the link up to date.
func (l *link) options() []nats.Option {
	return []nats.Option{
		nats.RetryOnFailedConnect(true),
		nats.ConnectHandler(func(*nats.Conn) { l.up("nats connected") }),
		nats.ReconnectHandler(func(*nats.Conn) { l.up("nats reconnected") }),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // Close
			}
			if err == nil {
				err = errors.New("connection lost")
			}
			// Often only a moment: the client tries the URL's other servers
			// at once. A failed attempt is what is worth a warning.
			l.mu.Lock()
			l.lost = err
			l.mu.Unlock()
			l.log.Info("nats connection lost; reconnecting", "url", l.url, "err", err)
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { l.down(err) }),
		nats.ClosedHandler(func(nc *nats.Conn) {
			// nats.go reports no auth error of a connection that was never
			// up: its last error, as it closes, is the only trace.
			if err := nc.LastError(); refused(err) {
				l.refuse(err)
			}
		}),
	}
}

// refuse records that the server refused the credentials.
func (l *link) refuse(err error) {
	l.mu.Lock()
	first := l.refusal == nil
	if first {
		if e := authRefusal(err); e != nil {
			err = e
		}
		l.refusal = &RefusedError{URL: l.url, Credentials: l.creds, Err: err}
	}
	r := l.refusal
	l.mu.Unlock()
	if first {
		l.log.Error("nats refused sluice's credentials; not retrying", "url", l.url, "err", r)
	}
}

func (l *link) up(msg string) {
	l.mu.Lock()
	l.lost, l.warned, l.everUp, l.downSince = nil, false, true, time.Time{}
	close(l.upCh)
	l.upCh = make(chan struct{})
	l.mu.Unlock()
	l.log.Info(msg, "url", l.url)
}

func (l *link) down(err error) {
	l.mu.Lock()
	l.lost = err
	warn := !l.warned
	l.warned = true
	l.mu.Unlock()
	if warn {
		l.log.Warn("nats unreachable; connecting in the background", "url", l.url, "err", err)
	} else {
		l.log.Debug("nats still unreachable", "url", l.url, "err", err)
	}
}

// check is nil while the connection is up, else why it is not.
func (l *link) check() error {
	if l == nil {
		return nil // the embedded server: an in-process connection
	}
	for {
		l.mu.Lock()
		nc, lost, upCh, refusal := l.nc, l.lost, l.upCh, l.refusal
		if nc != nil && nc.IsConnected() {
			l.mu.Unlock()
			return nil
		}
		if refusal != nil {
			l.mu.Unlock()
			return refusal
		}
		if nc != nil && nc.IsClosed() {
			l.mu.Unlock()
			if err := nc.LastError(); refused(err) { // before ClosedHandler ran
				l.refuse(err)
				return l.check()
			}
			return fmt.Errorf("nats: %w", engine.ErrClosed)
		}
		if l.everUp && l.downSince.IsZero() {
			l.downSince = time.Now() // before the client's handler said so
		}
		wait := time.Duration(0)
		if l.everUp {
			wait = reconnectGrace - time.Since(l.downSince)
		}
		l.mu.Unlock()
		if wait <= 0 {
			if lost == nil {
				lost = errors.New("not connected yet")
				if l.everUp {
					lost = errors.New("connection lost")
				}
			}
			return &unreachableError{url: l.url, cause: lost}
		}
		t := time.NewTimer(wait)
		select {
		case <-upCh:
		case <-t.C:
		}
		t.Stop()
	}
}

// unreachableError is an external NATS the connection cannot reach now.
type unreachableError struct {
	url   string
	cause error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("NATS at %s unreachable: %v", e.url, e.cause)
}

// Is makes it engine.ErrUnavailable.
func (e *unreachableError) Is(target error) bool { return target == engine.ErrUnavailable }

func (e *unreachableError) Unwrap() error { return e.cause }

// redactURL drops any user, password or token from each URL of a list
// ("nats://user:pass@host:4222" is logged as "nats://host:4222").
func redactURL(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		scheme, rest, ok := strings.Cut(p, "://")
		if !ok {
			scheme, rest = "", p
		}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = rest[at+1:]
		}
		if scheme != "" {
			rest = scheme + "://" + rest
		}
		parts[i] = rest
	}
	return strings.Join(parts, ",")
}

// set gives the link its connection, once made.
func (l *link) set(nc *nats.Conn) {
	l.mu.Lock()
	l.nc = nc
	l.mu.Unlock()
}

// wait blocks until the connection is up, or ctx ends (then: why it is not).
func (l *link) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	for {
		l.mu.Lock()
		nc, upCh := l.nc, l.upCh
		l.mu.Unlock()
		if nc != nil && (nc.IsConnected() || nc.IsClosed()) {
			return l.check()
		}
		select {
		case <-upCh:
		case <-ctx.Done():
			return fmt.Errorf("%w (waited %w)", l.check(), context.Cause(ctx))
		case <-time.After(100 * time.Millisecond): // the connect callback comes after the status changed
		}
	}
}
