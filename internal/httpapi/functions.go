package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/function"
)

// Invoke is the body of POST /v1/functions/{name}/invoke.
type Invoke struct {
	Config map[string]any    `json:"config,omitempty"`
	Events []json.RawMessage `json:"events"`
}

// InvokeResult is the answer: one entry per input event, in order.
type InvokeResult struct {
	Results []InvokeOne `json:"results"`
}

// InvokeOne is what one event produced.
type InvokeOne struct {
	Index   int               `json:"index"`
	Outputs []json.RawMessage `json:"outputs"`
	Error   string            `json:"error,omitempty"`
	// Detail is what a dead letter would carry besides the message: the
	// error's type and stack, the process's stderr and exit, the attempts,
	// the HTTP status and body.
	Detail *ErrorDetail `json:"detail,omitempty"`
	// Filtered is set by a pipeline's invoke when its where clause left the event out.
	Filtered bool `json:"filtered,omitempty"`
}

// ErrorDetail is a function.CallError's fields.
type ErrorDetail struct {
	Type     string   `json:"type,omitempty"`
	Stack    []string `json:"stack,omitempty"`
	Stderr   string   `json:"stderr,omitempty"`
	Exit     string   `json:"exit,omitempty"`
	Attempts int      `json:"attempts,omitempty"`
	Status   int      `json:"http_status,omitempty"`
	Body     string   `json:"http_body,omitempty"`
}

// maxInvokeEvents bounds one invoke call.
const maxInvokeEvents = 10000

// functionView is one entry of GET /v1/functions: a built-in kind (with
// the fields of its config) or a named function (with its kind's
// settings, its preset config and its live status).
type functionView struct {
	Name     string           `json:"name"`
	Kind     string           `json:"kind"`
	Builtin  bool             `json:"builtin,omitempty"`
	Doc      string           `json:"doc"`
	Fields   []function.Field `json:"fields,omitempty"`
	Settings any              `json:"settings,omitempty"`
	Config   map[string]any   `json:"config,omitempty"`
	MaxBatch int              `json:"max_batch,omitempty"`
	Payload  string           `json:"payload,omitempty"`
	// State is ready, starting, failing (process), ok, idle, failing (http)
	// or empty (built-in kinds); Status has the instances and counts.
	State  string `json:"state,omitempty"`
	Status any    `json:"status,omitempty"`
}

func (a *API) listFunctions(w http.ResponseWriter, r *http.Request) error {
	list := []functionView{}
	if reg := a.opts.Functions; reg != nil {
		for _, s := range reg.Specs() {
			list = append(list, functionView{Name: s.Name, Kind: s.Name, Builtin: true, Doc: s.Doc, Fields: s.Fields})
		}
		for _, n := range reg.Named() {
			if !a.visible(r, "function", n.Name) {
				continue
			}
			list = append(list, namedView(n))
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"functions": list})
}

func namedView(n function.Named) functionView {
	v := functionView{Name: n.Name, Kind: n.Kind, Doc: n.Doc, Settings: n.Settings, Config: n.Config,
		MaxBatch: n.MaxBatch, Payload: n.Payload}
	if n.State != nil {
		v.Status = n.State()
		var st struct{ State string }
		if b, err := json.Marshal(v.Status); err == nil && json.Unmarshal(b, &st) == nil {
			v.State = st.State
		}
	}
	return v
}

// getFunction is one named function: its state as it runs here, its spec
// and version.
func (a *API) getFunction(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if a.opts.Functions != nil {
		if n, ok := a.opts.Functions.Lookup(name); ok {
			return writeJSON(w, http.StatusOK, a.withSpec(r, catalog.Functions, name, namedView(n)))
		}
	}
	if a.opts.Project != nil { // defined, but not running here (its process did not start)
		if def, err := a.opts.Project.Get(r.Context(), catalog.Functions, name); err == nil {
			return writeJSON(w, http.StatusOK, a.withSpec(r, catalog.Functions, name, functionView{Name: name, State: "not running", Kind: kindOf(def.Spec)}))
		}
	}
	return problem(http.StatusNotFound, "Not found", fmt.Sprintf("no named function %q", name))
}

// kindOf is the kind a function spec gives (process, http, or its kind:).
func kindOf(spec []byte) string {
	var m map[string]any
	_ = json.Unmarshal(spec, &m)
	if k, ok := m["kind"].(string); ok {
		return k
	}
	for k := range m {
		if k == "process" || k == "http" {
			return k
		}
	}
	return ""
}

// invokeFunction runs a function on the given events and writes nothing
// anywhere. The request gives the config, except the function's operator
// fields (network targets), which are the node's config's.
func (a *API) invokeFunction(w http.ResponseWriter, r *http.Request) error {
	if a.opts.Functions == nil {
		return problem(http.StatusNotFound, "Not found", "this node has no functions")
	}
	var req Invoke
	if err := decodeStrict(r, &req); err != nil {
		return err
	}
	if len(req.Events) == 0 || len(req.Events) > maxInvokeEvents {
		return badRequest("events: give 1 to %d events", maxInvokeEvents)
	}
	f, err := a.opts.Functions.Invoke(r.PathValue("name"), req.Config)
	var opField *function.OperatorFieldError
	switch {
	case errors.As(err, &opField):
		// Forbidden rather than invalid: the field is well-formed, the
		// request is just not the one to set it.
		p := problem(http.StatusForbidden, "Operator field", err.Error())
		p.Ext = map[string]any{"field": opField.Field}
		return p
	case errors.Is(err, function.ErrOperatorConflict):
		return problem(http.StatusConflict, "Operator fields disagree", err.Error())
	case err != nil:
		return err
	}
	if c, ok := f.(io.Closer); ok { // a function built for this request (a named one is shared and not closed here)
		defer c.Close()
	}
	out, err := InvokeResults(f.Call(r.Context(), req.Events), nil)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

// InvokeResults is the answer of an invoke; a function that cannot run
// now (function.ErrUnavailable) is a 503, not per-event errors.
func InvokeResults(results []function.Result, filtered []bool) (InvokeResult, error) {
	if err := function.Unavailable(results); err != nil {
		p := problem(http.StatusServiceUnavailable, "Function unavailable", err.Error())
		if d := errorDetail(err); d != nil {
			p.Ext = map[string]any{"error": d} // "detail" is the message, in RFC 9457
		}
		return InvokeResult{}, p
	}
	out := InvokeResult{Results: make([]InvokeOne, len(results))}
	for i, res := range results {
		one := InvokeOne{Index: i, Outputs: res.Outputs, Filtered: filtered != nil && filtered[i]}
		if one.Outputs == nil {
			one.Outputs = []json.RawMessage{}
		}
		if res.Err != nil {
			one.Error, one.Detail = res.Err.Error(), errorDetail(res.Err)
		}
		out.Results[i] = one
	}
	return out, nil
}

func errorDetail(err error) *ErrorDetail {
	var ce *function.CallError
	if !errors.As(err, &ce) {
		return nil
	}
	return &ErrorDetail{Type: ce.Type, Stack: ce.Stack, Stderr: ce.Stderr, Exit: ce.Exit, Attempts: ce.Attempts, Status: ce.Status, Body: ce.Body}
}
