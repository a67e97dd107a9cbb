package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// BodyTimeoutError is what reading a request body returns once its
// deadline (http.body_timeout) has passed.
type BodyTimeoutError struct {
	Timeout time.Duration
	Err     error
}

func (e *BodyTimeoutError) Error() string {
	return fmt.Sprintf("request body not received within %s: %v", e.Timeout, e.Err)
}

func (e *BodyTimeoutError) Unwrap() error { return e.Err }

// bodyDeadline bounds the reading of one request's body: the connection's
// read deadline is set when the request carries a body and cleared when the
// body ends, so long answers (an invoke that waits on a wiki) are not
// concerned, and requests without a body (SSE subscriptions) never are.
//
// Why not http.Server.ReadTimeout: it counts from the request's first byte,
// headers included, and a handler sees its expiry only as a bare read error,
// which the handlers turn into 400 (a JSON syntax error) or 500; here the
// problem adapter knows the deadline passed and answers 408 naming the
// setting. (Some Go releases also cancelled the request context once the
// server's background read hit a deadline, ending long answers such as
// subscriptions: golang/go#18447, #70834; current ones clear the deadline
// when that read starts, at the body's end, as this does too.)
func (g *guard) bodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(g.bodyTimeout)); err != nil {
			next.ServeHTTP(w, r) // not a server connection (a test recorder)
			return
		}
		// The deadline stays set if the handler returns before the body's
		// end: the server then drains the rest, and must not wait forever.
		st := &bodyState{rc: rc, timeout: g.bodyTimeout}
		r = r.WithContext(context.WithValue(r.Context(), bodyStateKey{}, st))
		r.Body = &timedBody{ReadCloser: r.Body, st: st}
		next.ServeHTTP(w, r)
	})
}

type bodyStateKey struct{}

type bodyState struct {
	rc       *http.ResponseController
	timeout  time.Duration
	ended    bool // the body was read to its end and the deadline cleared
	timedOut atomic.Bool
}

// timedBody notes the end of the body and a read past its deadline.
type timedBody struct {
	io.ReadCloser
	st *bodyState
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		if !b.st.ended {
			b.st.ended = true
			// Whatever runs after the body (the server's background read
			// that notices a client leaving, a long handler) has no
			// deadline; clearing it also applies to a read already waiting.
			_ = b.st.rc.SetReadDeadline(time.Time{})
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.st.timedOut.Store(true)
		err = &BodyTimeoutError{Timeout: b.st.timeout, Err: err}
	}
	return n, err
}

// bodyTimedOut is the answer for a request whose body did not arrive in
// time, whatever the handler made of the read error (a JSON syntax error,
// an unreadable body), or nil.
func bodyTimedOut(w http.ResponseWriter, r *http.Request) *Problem {
	st, _ := r.Context().Value(bodyStateKey{}).(*bodyState)
	if st == nil || !st.timedOut.Load() {
		return nil
	}
	// The rest of the body is unread: the connection cannot carry another request.
	w.Header().Set("Connection", "close")
	p := problem(http.StatusRequestTimeout, "Request body too slow",
		fmt.Sprintf("the request body did not arrive within %s (http.body_timeout); send it faster, in smaller requests, "+
			"or raise http.body_timeout in the config", st.timeout))
	p.Ext = map[string]any{"limit": st.timeout.String(), "config": "http.body_timeout"}
	return p
}
