package httpfn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/sluice-dev/sluice/internal/function/invocation"
)

const (
	bodyExcerpt   = 2 << 10 // of an error answer, in failures
	maxRetryAfter = 30 * time.Second
)

// client is an http function's invoker.
type client struct {
	cfg    config
	where  string // the URL without its query, for messages
	http   *http.Client
	newOff func() backoff.BackOff

	invocations, failures atomic.Uint64
	mu                    sync.Mutex
	lastStatus            int
	lastErr               string
	lastErrAt             time.Time
	lastOK                time.Time
}

func newClient(c config) *client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = c.concurrency
	u := *c.url
	u.RawQuery = ""
	return &client{cfg: c, where: u.String(),
		http: &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		newOff: func() backoff.BackOff {
			b := backoff.NewExponentialBackOff()
			b.InitialInterval, b.MaxInterval, b.Multiplier = 200*time.Millisecond, 10*time.Second, 2
			b.Reset()
			return b
		}}
}

func (c *client) Concurrency() int { return c.cfg.concurrency }

func (c *client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Invoke POSTs body; an unavailable endpoint is tried up to max_attempts.
func (c *client) Invoke(ctx context.Context, body []byte) (invocation.Reply, error) {
	c.invocations.Add(1)
	off := c.newOff()
	for attempt := 1; ; attempt++ {
		reply, retryAfter, fail := c.post(ctx, body)
		if fail == nil {
			c.note(http.StatusOK, nil)
			return reply, nil
		}
		if ctx.Err() != nil {
			return invocation.Reply{}, ctx.Err()
		}
		fail.Tries = attempt
		if fail.Class != invocation.Unavailable || attempt >= c.cfg.maxAttempts {
			if fail.Class == invocation.Unavailable {
				fail.Message = fmt.Sprintf("%s (after %d attempts)", fail.Message, attempt)
			}
			c.failures.Add(1)
			c.note(fail.Status, fail)
			return invocation.Reply{}, fail
		}
		wait := off.NextBackOff()
		if retryAfter > wait {
			wait = retryAfter
		}
		select {
		case <-ctx.Done():
			return invocation.Reply{}, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// post makes one attempt.
func (c *client) post(ctx context.Context, body []byte) (invocation.Reply, time.Duration, *invocation.Failure) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.cfg.url.String(), bytes.NewReader(body))
	if err != nil {
		return invocation.Reply{}, 0, &invocation.Failure{Class: invocation.Batch, Type: invocation.TypeHTTP, Message: err.Error()}
	}
	req.Header = c.cfg.headers.Clone()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sluice")
	resp, err := c.http.Do(req)
	if err != nil {
		return invocation.Reply{}, 0, c.transportFailure(actx, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, invocation.MaxAnswerBytes+1))
	if err != nil {
		return invocation.Reply{}, 0, c.transportFailure(actx, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if len(answer) > invocation.MaxAnswerBytes {
			return invocation.Reply{}, 0, &invocation.Failure{Class: invocation.Bisect, Type: invocation.TypeInvalidAnswer, Status: resp.StatusCode,
				Message: fmt.Sprintf("the answer is over %d MiB", invocation.MaxAnswerBytes>>20)}
		}
		return invocation.Reply{Body: answer}, 0, nil
	}
	f := &invocation.Failure{Type: invocation.TypeHTTP, Status: resp.StatusCode, Body: excerpt(answer),
		Message: fmt.Sprintf("POST %s: %s", c.where, statusText(resp.StatusCode))}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests, code == http.StatusBadGateway, code == http.StatusServiceUnavailable, code == http.StatusGatewayTimeout:
		f.Class = invocation.Unavailable
		return invocation.Reply{}, retryAfter(resp.Header.Get("Retry-After")), f
	case code >= 500, code == http.StatusBadRequest, code == http.StatusRequestEntityTooLarge, code == http.StatusUnprocessableEntity:
		f.Class = invocation.Bisect // maybe one event's doing: split
	case code >= 300 && code < 400:
		f.Class = invocation.Batch
		f.Message += fmt.Sprintf(" (to %s): redirects are not followed", resp.Header.Get("Location"))
	default:
		f.Class = invocation.Batch
	}
	return invocation.Reply{}, 0, f
}

// transportFailure: no answer (or a broken one) from the endpoint.
func (c *client) transportFailure(actx context.Context, err error) *invocation.Failure {
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		return &invocation.Failure{Class: invocation.Bisect, Type: invocation.TypeHTTPTimeout,
			Message: fmt.Sprintf("POST %s: no answer within the timeout (%s)", c.where, c.cfg.timeout)}
	}
	return &invocation.Failure{Class: invocation.Unavailable, Type: invocation.TypeUnavailable,
		Message: fmt.Sprintf("POST %s: %v", c.where, unwrapURL(err))}
}

func (c *client) note(status int, f *invocation.Failure) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastStatus = status
	if f == nil {
		c.lastOK = time.Now().UTC()
		return
	}
	c.lastErr, c.lastErrAt = f.Error(), time.Now().UTC()
}

// State is an http function's state.
type State struct {
	State         string     `json:"state"` // idle (not called yet), ok, failing (its last invocation failed)
	URL           string     `json:"url"`
	Concurrency   int        `json:"concurrency"`
	Invocations   uint64     `json:"invocations"`
	Failures      uint64     `json:"failures"`
	LastStatus    int        `json:"last_status,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	LastErrorTime *time.Time `json:"last_error_time,omitempty"`
}

func (c *client) State() any {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := State{State: "idle", URL: c.where, Concurrency: c.cfg.concurrency, Invocations: c.invocations.Load(), Failures: c.failures.Load(),
		LastStatus: c.lastStatus, LastError: c.lastErr}
	if !c.lastErrAt.IsZero() {
		t := c.lastErrAt
		s.LastErrorTime = &t
	}
	switch {
	case !c.lastErrAt.IsZero() && c.lastErrAt.After(c.lastOK):
		s.State = "failing"
	case !c.lastOK.IsZero():
		s.State = "ok"
	}
	return s
}

func excerpt(b []byte) string {
	if len(b) > bodyExcerpt {
		b = b[:bodyExcerpt]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return strconv.Itoa(code)
}

// retryAfter reads Retry-After in seconds (an HTTP date is not worth it here), capped.
func retryAfter(h string) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || s <= 0 {
		return 0
	}
	return min(time.Duration(s)*time.Second, maxRetryAfter)
}

// unwrapURL drops the *url.Error wrapping, whose text repeats the URL
// (with its query).
func unwrapURL(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}
