package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/files"
	"github.com/sluice-dev/sluice/internal/history"
	"github.com/sluice-dev/sluice/internal/pipeline"
)

func (a *API) pipelines() (*pipeline.Manager, error) {
	if a.opts.Pipelines == nil {
		return nil, problem(http.StatusNotFound, "Not found", "this node runs no pipelines")
	}
	return a.opts.Pipelines, nil
}

// pipelineView is a pipeline's status with its recent history.
type pipelineView struct {
	pipeline.Status
	History []history.Point `json:"history"`
	Files   []files.Status  `json:"files,omitempty"` // its files outputs
}

func (a *API) withPast(s pipeline.Status) pipelineView {
	v := pipelineView{Status: s, History: a.past("pipeline/" + s.Name)}
	if a.opts.Files != nil {
		for _, f := range a.opts.Files.List() {
			if f.Pipeline == s.Name {
				v.Files = append(v.Files, f)
			}
		}
	}
	return v
}

func (a *API) listPipelines(w http.ResponseWriter, r *http.Request) error {
	list := []pipelineView{}
	if a.opts.Pipelines != nil {
		for _, s := range a.opts.Pipelines.List() {
			if !a.visible(r, "pipeline", s.Name) {
				continue
			}
			list = append(list, a.withPast(s))
		}
	}
	fromOwners(a, r, "/v1/pipelines", "pipelines", list, func(v pipelineView) (string, string) { return v.Name, v.Node })
	return writeJSON(w, http.StatusOK, map[string]any{"pipelines": list})
}

func (a *API) getPipeline(w http.ResponseWriter, r *http.Request) error {
	m, err := a.pipelines()
	if err != nil {
		return err
	}
	s, err := m.Get(r.PathValue("name"))
	if errors.Is(err, pipeline.ErrNotFound) {
		if why, ok := a.notRunning(catalog.Pipelines, r.PathValue("name")); ok {
			s = pipeline.Status{Name: r.PathValue("name"), State: pipeline.Failing, LastError: "not running: " + why, To: []string{}}
			return writeJSON(w, http.StatusOK, a.withSpec(r, catalog.Pipelines, s.Name, s))
		}
	}
	if err != nil {
		return err
	}
	out, found := a.specView(r, catalog.Pipelines, s.Name, a.withPast(s))
	if !found {
		return fmt.Errorf("%w: %q", pipeline.ErrNotFound, s.Name)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) pausePipeline(w http.ResponseWriter, r *http.Request) error {
	return a.pausePl(w, r, true)
}
func (a *API) resumePipeline(w http.ResponseWriter, r *http.Request) error {
	return a.pausePl(w, r, false)
}

func (a *API) pausePl(w http.ResponseWriter, r *http.Request, paused bool) error {
	m, err := a.pipelines()
	if err != nil {
		return err
	}
	s, err := m.SetPaused(r.Context(), r.PathValue("name"), paused)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s)
}

func (a *API) resetPipeline(w http.ResponseWriter, r *http.Request) error {
	m, err := a.pipelines()
	if err != nil {
		return err
	}
	to := r.URL.Query().Get("to")
	if to == "" {
		return badRequest("to: required: earliest, latest, a sequence, an RFC 3339 time or unix milliseconds")
	}
	pos, err := event.ParsePosition(to)
	if err != nil {
		return badRequest("to: %v", err)
	}
	s, err := m.Reset(r.Context(), r.PathValue("name"), pos)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s)
}

func (a *API) redrivePipeline(w http.ResponseWriter, r *http.Request) error {
	m, err := a.pipelines()
	if err != nil {
		return err
	}
	op, err := m.StartRedrive(r.PathValue("name"))
	if err != nil {
		return err
	}
	return accepted(w, op)
}

// PipelineInvoke is the body of POST /v1/pipelines/{name}/invoke.
type PipelineInvoke struct {
	Events []json.RawMessage `json:"events"`
}

func (a *API) invokePipeline(w http.ResponseWriter, r *http.Request) error {
	m, err := a.pipelines()
	if err != nil {
		return err
	}
	var req PipelineInvoke
	if err := decodeStrict(r, &req); err != nil {
		return err
	}
	if len(req.Events) == 0 || len(req.Events) > maxInvokeEvents {
		return badRequest("events: give 1 to %d events", maxInvokeEvents)
	}
	results, filtered, err := m.Invoke(r.Context(), r.PathValue("name"), req.Events)
	if err != nil {
		return err
	}
	out, err := InvokeResults(results, filtered)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}
