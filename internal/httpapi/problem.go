package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/source"
	"github.com/sluice-dev/sluice/internal/stream"
	"github.com/sluice-dev/sluice/internal/table"
)

// Problem is an RFC 9457 problem detail, with extension members.
type Problem struct {
	Type     string         `json:"type"`
	Title    string         `json:"title"`
	Status   int            `json:"status"`
	Detail   string         `json:"detail,omitempty"`
	Instance string         `json:"instance,omitempty"`
	Ext      map[string]any `json:"-"`
	header   http.Header    // set on the answer beside Content-Type
	internal bool           // an unexpected error: the detail is only an id of the log line
	cause    error          // what the log says, when the detail says it in other words
}

// Unwrap is the cause a problem was made from, if any.
func (p *Problem) Unwrap() error { return p.cause }

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

// MarshalJSON writes the extension members beside the standard ones.
func (p *Problem) MarshalJSON() ([]byte, error) {
	m := map[string]any{"type": p.Type, "title": p.Title, "status": p.Status}
	if p.Detail != "" {
		m["detail"] = p.Detail
	}
	if p.Instance != "" {
		m["instance"] = p.Instance
	}
	for k, v := range p.Ext {
		m[k] = v
	}
	return json.Marshal(m)
}

func problem(status int, title, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: title, Status: status, Detail: detail}
}

// badRequest is a problem with the request's parameters.
func badRequest(format string, args ...any) *Problem {
	return problem(http.StatusBadRequest, "Bad request", fmt.Sprintf(format, args...))
}

// statusClientClosed is nginx's code for a request its client gave up.
const statusClientClosed = 499

// toProblem maps an error from the layers below to its HTTP form.
func toProblem(err error) *Problem {
	var p *Problem
	var incompatible *catalog.IncompatibleError
	var tooLarge *stream.TooLargeError
	var maxBytes *http.MaxBytesError
	var tooMany *stream.TooManyEventsError
	var appendErr *stream.AppendError
	var spaceErr *engine.SpaceError
	var busy *pipeline.BusyError
	if p, ok := elsewhereProblem(err); ok {
		return p
	}
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &appendErr):
		return appendProblem(appendErr)
	case errors.As(err, &spaceErr):
		return spaceProblem(spaceErr)
	case errors.As(err, &incompatible):
		p = problem(http.StatusConflict, "Incompatible schema", err.Error())
		p.Ext = map[string]any{"breaking": incompatible.Changes}
		return p
	case errors.As(err, &tooLarge):
		p = problem(http.StatusRequestEntityTooLarge, "Event too large", err.Error())
		p.Ext = map[string]any{"index": tooLarge.Index, "limit": tooLarge.Limit}
		return p
	case errors.As(err, &tooMany):
		p = problem(http.StatusRequestEntityTooLarge, "Too many events", err.Error())
		p.Ext = map[string]any{"limit": tooMany.Limit}
		return p
	case errors.As(err, &maxBytes):
		return problem(http.StatusRequestEntityTooLarge, "Request too large",
			fmt.Sprintf("the request body is over the limit of %d bytes; split it into smaller requests", maxBytes.Limit))
	case errors.As(err, &busy):
		p = problem(http.StatusConflict, "Operation running", err.Error())
		p.Ext = map[string]any{"operation": busy.Running, "location": operationPath(busy.Running.ID)}
		return p
	case errors.Is(err, pipeline.ErrOperationEnded):
		return problem(http.StatusConflict, "Operation ended", err.Error())
	case errors.Is(err, pipeline.ErrCannotRebuild):
		return problem(http.StatusConflict, "Cannot rebuild", err.Error())
	case errors.Is(err, pipeline.ErrStopping):
		return problem(http.StatusServiceUnavailable, "Stopping", err.Error())
	case errors.Is(err, catalog.ErrNotFound), errors.Is(err, engine.ErrNotFound), errors.Is(err, source.ErrNotFound),
		errors.Is(err, pipeline.ErrNotFound), errors.Is(err, pipeline.ErrNoOperation):
		return problem(http.StatusNotFound, "Not found", err.Error())
	case errors.Is(err, context.Canceled):
		// The client left (or the node is stopping): nobody reads this answer.
		return problem(statusClientClosed, "Client closed request", "the request was cancelled before it was done")
	case errors.Is(err, engine.ErrUnavailable):
		return unavailableProblem("", err, false)
	case errors.Is(err, engine.ErrUnsupported):
		return problem(http.StatusBadRequest, "Bad request", err.Error())
	case errors.Is(err, catalog.ErrExists):
		return problem(http.StatusConflict, "Already exists", err.Error())
	case errors.Is(err, table.ErrNoTable):
		return problem(http.StatusNotFound, "Not found", err.Error())
	case errors.Is(err, table.ErrInvalid):
		return problem(http.StatusBadRequest, "Bad request", err.Error())
	case errors.Is(err, function.ErrUnknown):
		return problem(http.StatusNotFound, "Not found", err.Error())
	case errors.Is(err, catalog.ErrInvalid), errors.Is(err, stream.ErrBody), errors.Is(err, event.ErrBadPosition),
		errors.Is(err, function.ErrConfig):
		return problem(http.StatusBadRequest, "Bad request", err.Error())
	}
	// Anything else is the node's own failure: its text (NATS, SQL, file
	// paths) stays in the log; writeProblem gives the answer an id to find it.
	return &Problem{Type: "about:blank", Title: "Internal error", Status: http.StatusInternalServerError, internal: true}
}

func writeProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p := toProblem(err)
	if tp := bodyTimedOut(w, r); tp != nil {
		p = tp
	}
	if p.Instance == "" {
		p.Instance = r.URL.Path
	}
	if p.Status >= 500 {
		id := newErrorID()
		if p.cause != nil {
			err = p.cause
		}
		if p.Status == http.StatusInsufficientStorage || p.Status == http.StatusServiceUnavailable {
			// The node's state (out of space, not ready), not a fault: it clears by itself.
			log.Warn("request refused", "method", r.Method, "path", r.URL.Path, "status", p.Status, "error_id", id, "err", err)
		} else {
			log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", p.Status, "error_id", id, "err", err)
		}
		if p.internal {
			p.Detail = "internal error " + id + " (the node's log has the cause under error_id=" + id + ")"
		}
		p.Ext = withExt(p.Ext, "error_id", id)
	}
	for k, v := range p.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// withExt adds one extension member, copying so a shared problem is not changed.
func withExt(ext map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(ext)+1)
	for k, v := range ext {
		out[k] = v
	}
	out[k] = v
	return out
}

// newErrorID names one internal error: the answer carries it, and so does
// the node's log line with the error itself.
func newErrorID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// WriteProblem answers a problem+json of status, for handlers outside the
// API (a node that is not started yet).
func WriteProblem(w http.ResponseWriter, r *http.Request, status int, title, detail string) {
	writeProblem(w, r, slog.New(slog.DiscardHandler), problem(status, title, detail))
}
