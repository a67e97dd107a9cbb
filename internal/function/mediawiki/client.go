package mediawiki

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/time/rate"

	"github.com/sluice-dev/sluice/internal/function"
)

// APIError is an error the Action API answered ({"error": {...}}).
type APIError struct {
	Code string `json:"code"`
	Info string `json:"info"`
}

func (e *APIError) Error() string { return "mediawiki API error " + e.Code + ": " + e.Info }

// Limits on what one request may take or send.
const (
	maxBody       = 16 << 20 // bytes of one answer
	maxRetryAfter = 60 * time.Second
	minRetryAfter = time.Second
	maxGET        = 4096 // longer parameters go in a POST body
	bodyExcerpt   = 2048 // bytes of the last body kept in a CallError
)

// wiki is the state kept per wiki API endpoint.
type wiki struct {
	api     *url.URL
	sem     chan struct{} // max_concurrency_per_wiki
	limit   *rate.Limiter // nil: unlimited
	batches batcher
}

// answer is a successful response.
type answer struct {
	body     []byte
	at       time.Time // when it arrived
	attempts int
}

// fail turns err, found in a's body, into the event's error.
func (a *answer) fail(err error) error {
	return &function.CallError{Err: err, Attempts: a.attempts, Status: http.StatusOK, Body: excerpt(a.body, bodyExcerpt)}
}

// attemptError is one failed attempt: its status and body.
type attemptError struct {
	err    error
	status int
	body   []byte
	wait   time.Duration // Retry-After, 0 for exponential backoff
}

// get sends params to w's API, retrying as the API and HTTP ask, and returns
// the answer, or a *function.CallError (wrapping an *APIError for API errors),
// or the context's error.
func (f *pageImages) get(ctx context.Context, w *wiki, params url.Values) (*answer, error) {
	attempts := 0
	var last *attemptError
	op := func() (*answer, error) {
		attempts++
		a, ae := f.attempt(ctx, w, params)
		if ae == nil {
			a.attempts = attempts
			return a, nil
		}
		last = ae
		if ae.wait > 0 {
			return nil, &backoff.RetryAfterError{Duration: ae.wait}
		}
		return nil, ae.err
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = f.backoffInitial, 30*time.Second
	a, err := backoff.Retry(ctx, op, backoff.WithBackOff(b),
		backoff.WithMaxTries(uint(f.maxAttempts)), backoff.WithMaxElapsedTime(0))
	if err == nil {
		return a, nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return nil, context.Cause(ctx)
	}
	if last == nil { // not expected: Retry always runs op once
		return nil, err
	}
	return nil, &function.CallError{Err: unwrapPermanent(last.err), Attempts: attempts, Status: last.status, Body: excerpt(last.body, bodyExcerpt)}
}

// attempt sends one request, within the wiki's concurrency and rate limits.
// A nil error means HTTP 200 with a JSON object that is not an API error.
func (f *pageImages) attempt(ctx context.Context, w *wiki, params url.Values) (*answer, *attemptError) {
	select {
	case w.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, &attemptError{err: backoff.Permanent(context.Cause(ctx))}
	}
	defer func() { <-w.sem }()
	if w.limit != nil {
		if err := w.limit.Wait(ctx); err != nil {
			return nil, &attemptError{err: backoff.Permanent(err)}
		}
	}
	rctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := f.request(rctx, w, params)
	if err != nil {
		return nil, &attemptError{err: backoff.Permanent(err)}
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &attemptError{err: backoff.Permanent(context.Cause(ctx))}
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message would repeat the whole query
		}
		err = fmt.Errorf("%s %s: %w", req.Method, w.api.Redacted(), err)
		if errors.Is(err, ErrHostNotAllowed) { // redirected elsewhere: trying again will not help
			err = backoff.Permanent(err)
		}
		return nil, &attemptError{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	ae := &attemptError{status: resp.StatusCode, body: body}
	switch {
	case err != nil:
		if ctx.Err() != nil {
			ae.err = backoff.Permanent(context.Cause(ctx))
		} else {
			ae.err = fmt.Errorf("read answer of %s: %w", w.api.Redacted(), err)
		}
	case len(body) > maxBody:
		ae.err = backoff.Permanent(fmt.Errorf("answer of %s is larger than %d bytes", w.api.Redacted(), maxBody))
	case resp.StatusCode == http.StatusTooManyRequests:
		ae.err, ae.wait = errors.New("too many requests"), retryAfter(resp.Header)
	case resp.StatusCode >= 500:
		ae.err, ae.wait = fmt.Errorf("server error from %s", w.api.Redacted()), retryAfter(resp.Header)
	case resp.StatusCode != http.StatusOK:
		ae.err = backoff.Permanent(fmt.Errorf("unexpected HTTP status %d from %s", resp.StatusCode, w.api.Redacted()))
	default:
		var env struct {
			Error *APIError `json:"error"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			ae.err = backoff.Permanent(unexpected(err, body))
			break
		}
		if env.Error == nil {
			return &answer{body: body, at: time.Now()}, nil
		}
		ae.err = env.Error
		switch env.Error.Code {
		case "maxlag", "ratelimited": // wait as asked (or back off), then retry
			ae.wait = retryAfter(resp.Header)
		default:
			ae.err = backoff.Permanent(env.Error)
		}
	}
	return nil, ae
}

// request builds a GET, or a form POST if the parameters are long.
func (f *pageImages) request(ctx context.Context, w *wiki, params url.Values) (*http.Request, error) {
	q := params.Encode()
	var req *http.Request
	var err error
	if len(q) <= maxGET {
		u := *w.api
		u.RawQuery = q
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, w.api.String(), strings.NewReader(q))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", f.userAgent)
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// retryAfter is the Retry-After header (seconds or an HTTP date), at least
// a second and at most a minute; 0 if absent or invalid.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(v); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	} else {
		return 0
	}
	return min(max(d, minRetryAfter), maxRetryAfter)
}

// unexpected is a decoding error with the start of the body.
func unexpected(err error, body []byte) error {
	return fmt.Errorf("unexpected answer: %v: %s", err, excerpt(body, 200))
}

// excerpt is the first n bytes of b, cut at a character boundary.
func excerpt(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	b = b[:n]
	for range utf8.UTFMax - 1 { // drop a character cut in two
		if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size != 1 {
			break
		}
		b = b[:len(b)-1]
	}
	return string(b)
}

func unwrapPermanent(err error) error {
	var p *backoff.PermanentError
	if errors.As(err, &p) {
		return p.Err
	}
	return err
}
