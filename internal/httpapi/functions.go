package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

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
	// Filtered is set by a pipeline's invoke when its where clause left the event out.
	Filtered bool `json:"filtered,omitempty"`
}

// maxInvokeEvents bounds one invoke call.
const maxInvokeEvents = 10000

func (a *API) listFunctions(w http.ResponseWriter, r *http.Request) error {
	specs := []function.Spec{}
	if a.opts.Functions != nil {
		specs = a.opts.Functions.Specs()
	}
	return writeJSON(w, http.StatusOK, map[string]any{"functions": specs})
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
	return writeJSON(w, http.StatusOK, runInvoke(r, f, req.Events))
}

func runInvoke(r *http.Request, f function.Function, events []json.RawMessage) InvokeResult {
	results := f.Call(r.Context(), events)
	out := InvokeResult{Results: make([]InvokeOne, len(results))}
	for i, res := range results {
		one := InvokeOne{Index: i, Outputs: res.Outputs}
		if one.Outputs == nil {
			one.Outputs = []json.RawMessage{}
		}
		if res.Err != nil {
			one.Error = res.Err.Error()
		}
		out.Results[i] = one
	}
	return out
}
