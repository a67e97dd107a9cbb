package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/token"
)

// The self-service API: every kind of definition is created, replaced,
// deleted and listed the same way (docs/SELF-SERVICE.md); package project
// holds the rules, the nodes run what the catalog holds.

// maxSpecBytes bounds one definition (a stream's schema included) and a
// project of many.
const (
	maxSpecBytes    = 4 << 20
	maxProjectBytes = 32 << 20
)

// DefinitionList is what GET /v1/definitions answers.
type DefinitionList struct {
	Definitions []catalog.Definition `json:"definitions"`
}

// ApplyRequest is a project to apply: its definitions, and where pipelines
// whose input stream changes start.
type ApplyRequest struct {
	Definitions []catalog.Definition `json:"definitions"`
	Resets      map[string]string    `json:"resets,omitempty"`
}

// PutResult answers a create or replace.
type PutResult struct {
	catalog.Definition
	Changed bool     `json:"changed"`
	Fields  []string `json:"fields,omitempty"`
}

func (a *API) project() (*project.Service, error) {
	if a.opts.Project == nil {
		return nil, problem(http.StatusNotFound, "Not found", "this node manages no definitions")
	}
	return a.opts.Project, nil
}

// by says who made a change: the X-Sluice-User header (the CLI sends the
// user and host), or the client's address.
func by(r *http.Request) string {
	who := r.Header.Get("X-Sluice-User")
	if len(who) > 200 {
		who = who[:200]
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if t := caller(r); t != nil { // the token is who; what the client says of itself is a hint
		if who != "" {
			host = who + ", " + host
		}
		return fmt.Sprintf("%s [token %s] (%s)", t.Name, t.ID, host)
	}
	if who == "" {
		return "anonymous@" + host
	}
	return who + " (" + host + ")"
}

// kindName is the path parameter naming a definition of kind k, with its rule.
func kindName(k catalog.Kind) param {
	return map[catalog.Kind]param{catalog.Streams: streamName, catalog.Pipelines: pipelineName, catalog.Sources: sourceName,
		catalog.Tables: tableName, catalog.Functions: functionName}[k]
}

// readSpec reads a definition's body: a JSON object, its name (if any)
// taken out and checked against want (empty: the body must name it) and
// against the kind's name rule (400, as a name in a path).
func readSpec(r *http.Request, k catalog.Kind, want string) (string, json.RawMessage, error) {
	if _, err := bodyType(r, false); err != nil {
		return "", nil, err
	}
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxSpecBytes))
	if err != nil {
		return "", nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return "", nil, badRequest("request body: want a JSON object (the same fields as the entry in sluice.yaml): %v", err)
	}
	name := want
	if n, ok := fields["name"]; ok {
		if err := json.Unmarshal(n, &name); err != nil || (want != "" && name != want) {
			return "", nil, badRequest("name: %s does not match the path's %q", n, want)
		}
		delete(fields, "name")
	}
	if name == "" {
		return "", nil, invalid(&project.Invalid{Errors: config.FieldErrors{{Path: "name", Message: "required"}}})
	}
	if err := kindName(k).check(name); err != nil {
		return "", nil, err
	}
	spec, _ := json.Marshal(fields)
	return name, spec, nil
}

func (a *API) putDefinition(w http.ResponseWriter, r *http.Request, k catalog.Kind, create bool) error {
	p, err := a.project()
	if err != nil {
		return err
	}
	name, spec, err := readSpec(r, k, r.PathValue("name"))
	if err != nil {
		return err
	}
	if err := a.mayDefine(r, k, name, spec); err != nil {
		return err
	}
	q := r.URL.Query()
	force, err := boolParam(q.Get("force"), "force")
	if err != nil {
		return err
	}
	def, ch, err := p.Put(r.Context(), k, name, spec, project.PutOptions{Create: create, Force: force, Reset: q.Get("reset"), By: by(r)})
	if err != nil {
		return definitionProblem(err)
	}
	status := http.StatusOK
	if ch.Op == catalog.OpCreate {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/"+string(k)+"/"+name)
	}
	if k == catalog.Streams { // as GET /v1/streams/{name} answers, and whether it changed
		info, err := a.svc.Info(r.Context(), name)
		if err != nil {
			return err
		}
		m := a.withSpec(r, k, name, info).(map[string]json.RawMessage)
		m["changed"], _ = json.Marshal(ch.Op != "")
		return writeJSON(w, status, m)
	}
	return writeJSON(w, status, PutResult{Definition: def, Changed: ch.Op != "", Fields: ch.Fields})
}

func (a *API) deleteDefinition(w http.ResponseWriter, r *http.Request, k catalog.Kind) error {
	p, err := a.project()
	if err != nil {
		return err
	}
	force, err := boolParam(r.URL.Query().Get("force"), "force")
	if err != nil {
		return err
	}
	if err := p.Delete(r.Context(), k, r.PathValue("name"), force, by(r)); err != nil {
		return definitionProblem(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) definitionHistory(w http.ResponseWriter, r *http.Request, k catalog.Kind) error {
	p, err := a.project()
	if err != nil {
		return err
	}
	h, err := p.History(r.Context(), k, r.PathValue("name"))
	if err != nil {
		return err
	}
	if h == nil {
		h = []catalog.Change{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"versions": h})
}

func (a *API) listDefinitions(w http.ResponseWriter, r *http.Request) error {
	p, err := a.project()
	if err != nil {
		return err
	}
	kinds := catalog.Kinds
	if s := r.URL.Query().Get("kind"); s != "" {
		k, err := catalog.ParseKind(s)
		if err != nil {
			return badRequest("kind: %v", err)
		}
		kinds = []catalog.Kind{k}
	}
	out := DefinitionList{Definitions: []catalog.Definition{}}
	for _, k := range kinds {
		defs, err := p.List(r.Context(), k)
		if err != nil {
			return err
		}
		for _, d := range defs {
			if a.visible(r, d.Kind.Singular(), d.Name) {
				out.Definitions = append(out.Definitions, d)
			}
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) applyProject(w http.ResponseWriter, r *http.Request) error {
	p, err := a.project()
	if err != nil {
		return err
	}
	if _, err := bodyType(r, false); err != nil {
		return err
	}
	var req ApplyRequest
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxProjectBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return badRequest("request body: %v", err)
	}
	q := r.URL.Query()
	opt := project.ApplyOptions{Resets: req.Resets, By: by(r)}
	for name, dst := range map[string]*bool{"dry_run": &opt.DryRun, "prune": &opt.Prune, "force": &opt.Force} {
		if *dst, err = boolParam(q.Get(name), name); err != nil {
			return err
		}
	}
	if opt.Prune {
		if err := a.requireAll(r, token.Admin); err != nil {
			return err // pruning deletes what the project does not name: anything
		}
	}
	for i, d := range req.Definitions {
		if err := a.mayDefine(r, d.Kind, d.Name, d.Spec); err != nil {
			if p, ok := err.(*Problem); ok {
				p.Detail = fmt.Sprintf("definitions[%d] (%s %s): %s", i, d.Kind.Singular(), d.Name, p.Detail)
			}
			return err
		}
	}
	plan, err := p.Apply(r.Context(), req.Definitions, opt)
	if err != nil {
		return definitionProblem(err)
	}
	if plan.Changes == nil {
		plan.Changes = []project.Change{}
	}
	return writeJSON(w, http.StatusOK, plan)
}

// withSpec adds a definition's spec to a status document (GET /v1/{kind}/{name}).
func (a *API) withSpec(r *http.Request, k catalog.Kind, name string, v any) any {
	out, _ := a.specView(r, k, name, v)
	return out
}

// specView is withSpec that also says whether the catalog holds the
// definition: false only when it answered that there is none (deleted,
// and this node has not followed the deletion yet), so a GET after a
// DELETE answers 404 on the node that deleted it.
func (a *API) specView(r *http.Request, k catalog.Kind, name string, v any) (any, bool) {
	if a.opts.Project == nil {
		return v, true
	}
	def, err := a.opts.Project.Get(r.Context(), k, name)
	if errors.Is(err, catalog.ErrNoDefinition) {
		return v, false
	}
	if err != nil {
		return v, true
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return v, true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return v, true
	}
	m["spec"] = def.Spec
	m["version"], _ = json.Marshal(def.Version)
	return m, true
}

func boolParam(s, name string) (bool, error) {
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, badRequest("%s %q: want true or false", name, s)
	}
	return v, nil
}

// definitionProblem maps the refusals of package project.
func definitionProblem(err error) error {
	var inv *project.Invalid
	var inUse *project.InUse
	switch {
	case errors.As(err, &inv):
		return invalid(inv)
	case errors.As(err, &inUse):
		p := problem(http.StatusConflict, "In use", err.Error())
		p.Ext = map[string]any{"users": inUse.Users}
		return p
	case errors.Is(err, project.ErrFromChanged):
		return problem(http.StatusConflict, "Input stream changed", err.Error())
	case errors.Is(err, catalog.ErrDefinitionExists):
		return problem(http.StatusConflict, "Already exists", err.Error())
	case errors.Is(err, catalog.ErrStale):
		return problem(http.StatusConflict, "Changed meanwhile", err.Error()+": read it again and retry")
	case errors.Is(err, engine.ErrUnsupported):
		// The only such refusal of a definition: more replicas than the
		// engine can keep (a single server keeps 1).
		return invalid(&project.Invalid{Errors: config.FieldErrors{{Path: "replicas", Message: err.Error()}}})
	}
	return err
}

// invalid is 422 with each problem's field path.
func invalid(inv *project.Invalid) *Problem {
	p := problem(http.StatusUnprocessableEntity, "Invalid definition", inv.Errors.Error())
	p.Ext = map[string]any{"errors": inv.Errors}
	return p
}

// definitionRoutes are the same operations for every kind.
func (a *API) definitionRoutes() []route {
	var out []route
	for _, k := range catalog.Kinds {
		one, tag := k.Singular(), string(k)
		name := kindName(k)
		kinded := func(f func(w http.ResponseWriter, r *http.Request, k catalog.Kind) error) handlerFunc {
			return func(w http.ResponseWriter, r *http.Request) error { return f(w, r, k) }
		}
		spec := &body{desc: "the " + one + "'s spec: the same fields as its entry in sluice.yaml, as JSON", types: []string{"application/json"}, schema: "Definition",
			example: specExamples[k]}
		put := []param{name, {name: "force", in: "query", desc: "streams: replace a schema that breaks consumers", typ: "boolean"},
			{name: "reset", in: "query", desc: "pipelines: where to start when from changes (earliest, latest, a sequence, a time)", typ: "string"}}
		del := []param{name, {name: "force", in: "query", desc: "delete even if others use it (they then fail until changed)", typ: "boolean"}}
		out = append(out,
			route{method: "POST", path: "/v1/" + tag, id: "create" + title(one), tag: tag, summary: "Create a " + one + " (runs on every node at once)",
				body: spec, params: put[1:],
				responses: map[int]response{201: jsonResp("created", "PutResult"), 409: problemResp("exists"), 422: problemResp("invalid: errors lists each field path")},
				h:         func(w http.ResponseWriter, r *http.Request) error { return a.putDefinition(w, r, k, true) }},
			route{method: "PUT", path: "/v1/" + tag + "/{name}", id: "replace" + title(one), tag: tag, summary: "Create or replace a " + one,
				body: spec, params: put,
				responses: map[int]response{200: jsonResp("replaced (changed says whether anything did)", "PutResult"), 201: jsonResp("created", "PutResult"),
					409: problemResp("from changed without reset, or changed meanwhile"), 422: problemResp("invalid: errors lists each field path")},
				h: func(w http.ResponseWriter, r *http.Request) error { return a.putDefinition(w, r, k, false) }},
			route{method: "DELETE", path: "/v1/" + tag + "/{name}", id: "delete" + title(one), tag: tag, summary: "Delete a " + one,
				params:    del,
				responses: map[int]response{204: {desc: "deleted"}, 404: problemResp("no such " + one), 409: problemResp("in use: users lists who")},
				h:         kinded(a.deleteDefinition)},
			route{method: "GET", path: "/v1/" + tag + "/{name}/history", id: "history" + title(one), tag: tag, summary: "The " + one + "'s versions: who, when, which fields",
				params:    []param{name},
				responses: map[int]response{200: jsonResp("the versions, oldest first", "DefinitionHistory")},
				h:         kinded(a.definitionHistory)},
		)
	}
	out = append(out,
		route{method: "POST", path: "/v1/pipelines/{name}/dry-run", id: "dryRunPipeline", tag: "pipelines",
			summary: "Run a pipeline spec (saved or not) on the last events of its input stream: each one's outputs or error; writes nothing",
			params:  []param{pipelineName, {name: "last", in: "query", desc: "how many of the newest events (1 to 100, default 10)", typ: "integer"}},
			body:    &body{desc: "the pipeline's spec, as PUT takes it", types: []string{"application/json"}, schema: "Definition", example: specExamples[catalog.Pipelines]},
			responses: map[int]response{200: jsonResp("each event's outcome, oldest first", "DryRun"),
				404: problemResp("no such input stream"), 422: problemResp("invalid spec: errors lists each field path")},
			h: a.dryRunPipeline},
		route{method: "GET", path: "/v1/definitions", id: "listDefinitions", tag: "definitions", summary: "Every definition (sluice export)",
			params:    []param{{name: "kind", in: "query", desc: "only this kind", typ: "string"}},
			responses: map[int]response{200: jsonResp("the definitions", "DefinitionList")}, h: a.listDefinitions},
		route{method: "POST", path: "/v1/apply", id: "apply", tag: "definitions", summary: "Plan and apply a project (sluice apply)",
			params: []param{{name: "dry_run", in: "query", desc: "plan only", typ: "boolean"},
				{name: "prune", in: "query", desc: "delete what the project does not declare", typ: "boolean"},
				{name: "force", in: "query", desc: "replace breaking schemas, delete pruned streams", typ: "boolean"}},
			body:      &body{desc: "the project's definitions", types: []string{"application/json"}, schema: "ApplyRequest", example: `{"definitions":[{"kind":"tables","name":"t","spec":{"key":"event.id","time":"/time"}}]}`},
			responses: map[int]response{200: jsonResp("the plan, applied unless a dry run", "Plan"), 422: problemResp("invalid definitions: errors lists each")},
			h:         a.applyProject},
	)
	return out
}

func title(s string) string { return string(s[0]-32) + s[1:] }

var specExamples = map[catalog.Kind]string{
	catalog.Streams:   `{"name":"demo.events","schema":{"type":"object"},"id":"/meta/id","time":"/meta/dt"}`,
	catalog.Tables:    `{"name":"images","key":"event.page","time":"/time"}`,
	catalog.Functions: `{"name":"enrich","http":{"url":"http://127.0.0.1:9000/enrich"}}`,
	catalog.Sources:   `{"name":"wiki","sse":{"url":"http://127.0.0.1:8081/v2/stream/recentchange","user_agent":"me@example.org"},"to":"wiki.rc"}`,
	catalog.Pipelines: `{"name":"p","from":"wiki.rc","where":"event.type == 'edit'","function":{"name":"identity"},"to":[{"stream":"edits"}]}`,
}

// DryRun is what a pipeline spec makes of the last events of its input
// stream, written nowhere (POST /v1/pipelines/{name}/dry-run).
type DryRun struct {
	Pipeline string        `json:"pipeline"`
	From     string        `json:"from"`
	Events   []DryRunEvent `json:"events"`
}

// DryRunEvent is one input and its outcome: skipped by where, its
// outputs, or the error that would dead-letter it.
type DryRunEvent struct {
	Seq     uint64            `json:"seq"`
	ID      string            `json:"id"`
	Input   json.RawMessage   `json:"input"`
	Skipped bool              `json:"skipped"`
	Outputs []json.RawMessage `json:"outputs"`
	Error   *DryRunError      `json:"error"`
	Err     error             `json:"-"` // set by the node; Error is made of it
}

// DryRunError is an input's error, with the function's detail if any.
type DryRunError struct {
	Message string `json:"message"`
	*ErrorDetail
}

func (a *API) dryRunPipeline(w http.ResponseWriter, r *http.Request) error {
	if a.opts.DryRun == nil {
		return problem(http.StatusNotFound, "Not found", "this node runs no dry runs")
	}
	name, spec, err := readSpec(r, catalog.Pipelines, r.PathValue("name"))
	if err != nil {
		return err
	}
	if err := a.mayDefine(r, catalog.Pipelines, name, spec); err != nil {
		return err // it reads its input and calls its function as the pipeline would
	}
	last := 10
	if s := r.URL.Query().Get("last"); s != "" {
		if last, err = strconv.Atoi(s); err != nil {
			return badRequest("last %q: want a number of events", s)
		}
	}
	out, err := a.opts.DryRun(r.Context(), name, spec, last)
	if err != nil {
		return definitionProblem(err)
	}
	if out.Events == nil {
		out.Events = []DryRunEvent{}
	}
	for i := range out.Events {
		if e := out.Events[i].Err; e != nil {
			out.Events[i].Error = &DryRunError{Message: e.Error(), ErrorDetail: errorDetail(e)}
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) notRunning(k catalog.Kind, name string) (string, bool) {
	if a.opts.NotRunning == nil {
		return "", false
	}
	return a.opts.NotRunning(k, name)
}
