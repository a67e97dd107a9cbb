package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/history"
	"github.com/sluice-dev/sluice/internal/source"
)

// sourceView is a source's status with its recent history.
type sourceView struct {
	source.StatusView
	History []history.Point `json:"history"`
}

func (a *API) sourcePast(s source.StatusView) sourceView {
	return sourceView{StatusView: s, History: a.past("source/" + s.Name)}
}

func (a *API) listSources(w http.ResponseWriter, r *http.Request) error {
	list := []sourceView{}
	if a.opts.Sources != nil {
		for _, s := range a.opts.Sources.List() {
			if !a.visible(r, "source", s.Name) {
				continue
			}
			list = append(list, a.sourcePast(s))
		}
	}
	fromOwners(a, r, "/v1/sources", "sources", list, func(v sourceView) (string, string) { return v.Name, v.Node })
	return writeJSON(w, http.StatusOK, map[string]any{"sources": list})
}

func (a *API) sources() (*source.Manager, error) {
	if a.opts.Sources == nil {
		return nil, problem(http.StatusNotFound, "Not found", "this node runs no sources")
	}
	return a.opts.Sources, nil
}

func (a *API) getSource(w http.ResponseWriter, r *http.Request) error {
	m, err := a.sources()
	if err != nil {
		return err
	}
	v, err := m.Get(r.PathValue("name"))
	if errors.Is(err, source.ErrNotFound) {
		if why, ok := a.notRunning(catalog.Sources, r.PathValue("name")); ok {
			v = source.StatusView{Name: r.PathValue("name"), State: source.Failed, LastError: "not running: " + why}
			v.Kind, v.To = a.sourceKindOf(r, v.Name)
			return writeJSON(w, http.StatusOK, a.withSpec(r, catalog.Sources, v.Name, v))
		}
	}
	if err != nil {
		return err
	}
	out, found := a.specView(r, catalog.Sources, v.Name, a.sourcePast(v))
	if !found {
		return fmt.Errorf("%w: %q", source.ErrNotFound, v.Name)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) pauseSource(w http.ResponseWriter, r *http.Request) error {
	return a.setPaused(w, r, true)
}
func (a *API) resumeSource(w http.ResponseWriter, r *http.Request) error {
	return a.setPaused(w, r, false)
}

func (a *API) setPaused(w http.ResponseWriter, r *http.Request, paused bool) error {
	m, err := a.sources()
	if err != nil {
		return err
	}
	v, err := m.SetPaused(r.Context(), r.PathValue("name"), paused)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// sourceKindOf reads a source definition's kind and stream.
func (a *API) sourceKindOf(r *http.Request, name string) (kind, to string) {
	if a.opts.Project == nil {
		return "", ""
	}
	def, err := a.opts.Project.Get(r.Context(), catalog.Sources, name)
	if err != nil {
		return "", ""
	}
	var m map[string]json.RawMessage
	_ = json.Unmarshal(def.Spec, &m)
	_ = json.Unmarshal(m["to"], &to)
	for k := range m {
		if k != "to" && k != "drop" && k != "dir" {
			kind = k
		}
	}
	return kind, to
}
