package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/sluice-dev/sluice/internal/pipeline"
)

// accepted answers 202 for an operation that started, with where to follow it.
func accepted(w http.ResponseWriter, op pipeline.Operation) error {
	w.Header().Set("Location", operationPath(op.ID))
	return writeJSON(w, http.StatusAccepted, op)
}

func operationPath(id string) string { return "/v1/operations/" + url.PathEscape(id) }

func (a *API) listOperations(w http.ResponseWriter, r *http.Request) error {
	list := []pipeline.Operation{}
	if a.opts.Pipelines != nil {
		for _, op := range a.opts.Pipelines.Operations() {
			if a.visible(r, "pipeline", op.Pipeline) {
				list = append(list, op)
			}
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"operations": list})
}

func (a *API) getOperation(w http.ResponseWriter, r *http.Request) error {
	m, err := a.pipelines()
	if err != nil {
		return err
	}
	op, err := m.Operation(r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, op)
}

// cancelWait bounds how long a cancel waits for its operation to end; an
// operation sees the cancel between two steps, which are short, so this is
// a safety net and not a wait a client should meet.
const cancelWait = 10 * time.Second

func (a *API) cancelOperation(w http.ResponseWriter, r *http.Request) error {
	m, err := a.pipelines()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), cancelWait)
	defer cancel()
	op, err := m.Cancel(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	if op.Running() {
		w.Header().Set("Location", operationPath(op.ID))
		return writeJSON(w, http.StatusAccepted, op) // still ending: follow it
	}
	return writeJSON(w, http.StatusOK, op)
}
