//go:build unix

package process

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/function/invocation"
)

// The Runtime API (version 2018-06-01) as a process sees it; the subset
// and its answers follow AWS's runtime interface emulator.
const apiPrefix = "/2018-06-01/runtime"

// Lambda's header names.
const (
	hRequestID   = "Lambda-Runtime-Aws-Request-Id"
	hDeadline    = "Lambda-Runtime-Deadline-Ms"
	hFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	hTraceID     = "Lambda-Runtime-Trace-Id"
	hErrorType   = "Lambda-Runtime-Function-Error-Type"
	hErrorBody   = "Lambda-Runtime-Function-Error-Body" // a trailer of streamed responses, base64
)

func (g *generation) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"/invocation/next", g.next)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/response", g.response)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/error", g.invocationError)
	mux.HandleFunc("POST "+apiPrefix+"/init/error", g.initError)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "NotFound", "sluice serves the Runtime API's "+apiPrefix+"/invocation/next, /invocation/{id}/response, /invocation/{id}/error and /init/error")
	})
	return mux
}

// next waits for an invocation and hands it over with Lambda's headers.
func (g *generation) next(w http.ResponseWriter, r *http.Request) {
	if held := g.asksAgain(); held != "" {
		apiError(w, http.StatusForbidden, "InvalidStateTransition", "the runtime asked for the next invocation before answering "+held)
		return
	}
	if !g.waitNext() {
		apiError(w, http.StatusForbidden, "InvalidStateTransition",
			"the runtime asked for the next invocation while another request for one is waiting: one invocation at a time per process")
		return
	}
	defer g.doneNext()
	if g.recorded != nil {
		// A process quick to ask waits until its start is recorded (pid,
		// state): otherwise its first invocations could be counted before it.
		select {
		case <-g.recorded:
		case <-r.Context().Done():
			return
		case <-g.exited:
			return
		}
	}
	g.readyOnce.Do(func() { close(g.ready) })
	var c *call
	select {
	case c = <-g.in.pool.work:
	case <-r.Context().Done():
		return
	case <-g.exited:
		return
	}
	deadline := time.Now().Add(g.in.pool.cfg.timeout)
	if !g.hold(c) {
		c.finish(outcome{err: errNotDelivered})
		return
	}
	h := w.Header()
	h.Set(hRequestID, c.id)
	h.Set(hDeadline, strconv.FormatInt(deadline.UnixMilli(), 10))
	h.Set(hFunctionARN, "arn:aws:lambda:sluice:000000000000:function:"+g.in.pool.cfg.name)
	h.Set(hTraceID, traceID())
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(c.body)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(c.body)
	if err == nil {
		err = http.NewResponseController(w).Flush()
	}
	if err != nil && g.release(c.id) == c {
		// The process went away before it had the invocation (its exit
		// is handled apart): another instance takes it.
		c.finish(outcome{err: errNotDelivered})
	}
}

// response is the invocation's answer.
func (g *generation) response(w http.ResponseWriter, r *http.Request) {
	c, body, tooLarge, ok := g.answer(w, r)
	if !ok {
		return
	}
	stderr := g.stderr.snapshot()
	switch {
	case tooLarge:
		c.finish(outcome{err: &invocation.Failure{Class: invocation.Bisect, Type: invocation.TypeInvalidAnswer,
			Message: fmt.Sprintf("the answer is over %d MiB", invocation.MaxAnswerBytes>>20), Stderr: stderr}})
		apiError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", invocation.MaxAnswerBytes))
		return
	case r.Trailer.Get(hErrorType) != "":
		// A streamed response that failed on the way (aws-lambda-go sets these trailers).
		raw, _ := base64.StdEncoding.DecodeString(r.Trailer.Get(hErrorBody))
		c.finish(outcome{err: g.functionError(invocation.LambdaError(raw, r.Trailer.Get(hErrorType)), stderr)})
	default:
		g.answered.Store(true)
		c.finish(outcome{reply: invocation.Reply{Body: body, Stderr: stderr}})
	}
	accepted(w)
}

// invocationError is the invocation's failure as a whole.
func (g *generation) invocationError(w http.ResponseWriter, r *http.Request) {
	c, body, _, ok := g.answer(w, r)
	if !ok {
		return
	}
	g.answered.Store(true) // the process works: it reported the error
	c.finish(outcome{err: g.functionError(invocation.LambdaError(body, r.Header.Get(hErrorType)), g.stderr.snapshot())})
	accepted(w)
}

// initError: the function cannot start. It is stopped and started later.
func (g *generation) initError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	e := invocation.LambdaError(body, r.Header.Get(hErrorType))
	if e.Type == "" {
		e.Type = "Runtime.InitError"
	}
	g.mu.Lock()
	g.initErr = e
	g.mu.Unlock()
	accepted(w)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	g.kill()
}

// answer reads a /response or /error body for the held invocation.
func (g *generation) answer(w http.ResponseWriter, r *http.Request) (c *call, body []byte, tooLarge, ok bool) {
	id := r.PathValue("id")
	if g.held(id) == nil {
		apiError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
		return nil, nil, false, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, invocation.MaxAnswerBytes))
	var mbe *http.MaxBytesError
	if err != nil && !errors.As(err, &mbe) {
		return nil, nil, false, false // the process went away; its exit fails the invocation
	}
	if c = g.release(id); c == nil { // timed out while the body came
		apiError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
		return nil, nil, false, false
	}
	return c, body, err != nil, true
}

func (g *generation) functionError(e *invocation.Error, stderr string) *invocation.Failure {
	return &invocation.Failure{Class: invocation.Bisect, Type: e.Type, Message: e.Message, Stack: e.Stack, Stderr: stderr}
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func apiError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorType": typ, "errorMessage": msg})
}

// traceID is an X-Ray style trace header, as Lambda sends one.
func traceID() string {
	return fmt.Sprintf("Root=1-%08x-%012x%012x;Parent=%016x;Sampled=0", time.Now().Unix(),
		rand.Uint64()&(1<<48-1), rand.Uint64()&(1<<48-1), rand.Uint64())
}
