package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
)

// StreamCreate is the body of POST /v1/streams.
type StreamCreate struct {
	Name string `json:"name"`
	// Schema is a self-contained JSON Schema document; or give SchemaBundle
	// (a root URL and every document it references, as the CLI sends).
	Schema          json.RawMessage   `json:"schema,omitempty"`
	SchemaBundle    *schema.Bundle    `json:"schema_bundle,omitempty"`
	ID              string            `json:"id,omitempty"`
	Time            string            `json:"time,omitempty"`
	Key             []string          `json:"key,omitempty"`
	Preview         []string          `json:"preview,omitempty"`
	Retention       catalog.Retention `json:"retention,omitempty"`
	DuplicateWindow catalog.Duration  `json:"duplicate_window,omitempty"`
	Replicas        int               `json:"replicas,omitempty"`
}

// SchemaPut is the body of PUT /v1/streams/{name}/schema.
type SchemaPut struct {
	Schema       json.RawMessage `json:"schema,omitempty"`
	SchemaBundle *schema.Bundle  `json:"schema_bundle,omitempty"`
}

// SchemaVersionResult answers a schema change.
type SchemaVersionResult struct {
	Changed bool `json:"changed"`
	catalog.Version
}

// decodeStrict reads a JSON request body (application/json only) into v,
// refusing unknown fields.
func decodeStrict(r *http.Request, v any) error {
	if _, err := bodyType(r, false); err != nil {
		return err
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("request body: %v", err)
	}
	return nil
}

func bundleOf(name string, doc json.RawMessage, b *schema.Bundle) (schema.Bundle, error) {
	switch {
	case b != nil && len(doc) > 0:
		return schema.Bundle{}, badRequest("give schema or schema_bundle, not both")
	case b != nil:
		return *b, nil
	case len(bytes.TrimSpace(doc)) == 0 || string(bytes.TrimSpace(doc)) == "null":
		return schema.Bundle{}, badRequest("schema: required (no schema, no stream)")
	}
	bu, err := schema.FromDocument("sluice:streams/"+name+"/schema.json", doc)
	if err != nil {
		return schema.Bundle{}, badRequest("schema: %v", err)
	}
	return bu, nil
}

func (a *API) listStreams(w http.ResponseWriter, r *http.Request) error {
	defs, err := a.svc.List(r.Context())
	if err != nil {
		return err
	}
	out := make([]stream.Info, 0, len(defs))
	for _, d := range defs {
		if !a.visible(r, "stream", d.Name) {
			continue
		}
		info, err := a.svc.Info(r.Context(), d.Name)
		if err != nil {
			continue // deleted meanwhile
		}
		info.Schema = nil // the list stays small; GET /v1/streams/{name} has it
		out = append(out, info)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"streams": out})
}

func (a *API) createStream(w http.ResponseWriter, r *http.Request) error {
	var req StreamCreate
	if err := decodeStrict(r, &req); err != nil {
		return err
	}
	b, err := bundleOf(req.Name, req.Schema, req.SchemaBundle)
	if err != nil {
		return err
	}
	def := catalog.Stream{Name: req.Name, ID: req.ID, Time: req.Time, Key: req.Key, Preview: req.Preview, Retention: req.Retention,
		DuplicateWindow: req.DuplicateWindow, Replicas: req.Replicas}
	if _, err := a.svc.Create(r.Context(), def, b); err != nil {
		return err
	}
	info, err := a.svc.Info(r.Context(), req.Name)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/streams/"+req.Name)
	return writeJSON(w, http.StatusCreated, info)
}

func (a *API) getStream(w http.ResponseWriter, r *http.Request) error {
	info, err := a.svc.Info(r.Context(), r.PathValue("name"))
	if errors.Is(err, engine.ErrUnavailable) {
		return unavailableProblem(r.PathValue("name"), err, false)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.withSpec(r, catalog.Streams, info.Name, info))
}

func (a *API) deleteStream(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.Delete(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) setSchema(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var req SchemaPut
	if err := decodeStrict(r, &req); err != nil {
		return err
	}
	b, err := bundleOf(name, req.Schema, req.SchemaBundle)
	if err != nil {
		return err
	}
	force, _ := strconv.ParseBool(r.URL.Query().Get("force"))
	v, changed, err := a.svc.SetSchema(r.Context(), name, b, force)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, SchemaVersionResult{Changed: changed, Version: v})
}

func (a *API) getVersion(w http.ResponseWriter, r *http.Request) error {
	n, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || n < 1 {
		return badRequest("version %q: want a number from 1", r.PathValue("version"))
	}
	versions, err := a.svc.Versions(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	for _, v := range versions {
		if v.Version == n {
			return writeJSON(w, http.StatusOK, v)
		}
	}
	return problem(http.StatusNotFound, "Not found", fmt.Sprintf("stream %q has no schema version %d (it has %d)", r.PathValue("name"), n, len(versions)))
}
