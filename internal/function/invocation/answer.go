package invocation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Bounds of what an event's error keeps (the dead letter must stay small).
const (
	maxType       = 256
	maxMessage    = 16 << 10
	maxStack      = 200
	maxStackEntry = 2 << 10
)

var null = []byte("null")

// decodeAnswer reads an answer of payload sluice for n events: exactly n
// results, each outputs or an error. Outputs are compacted (one line each,
// as streams store them). The error names the rule the answer breaks.
func decodeAnswer(body []byte, n int) ([]eventResult, error) {
	// Maps, not structs: encoding/json matches struct fields regardless of
	// case, and the contract's names are exact (as its schema says).
	var a map[string]json.RawMessage
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("the answer is not the JSON of {\"results\": [...]}: %w (it begins %s)", err, quoteStart(body, 120))
	}
	var results []map[string]json.RawMessage
	if raw, ok := a["results"]; !ok || bytes.Equal(raw, null) || json.Unmarshal(raw, &results) != nil {
		return nil, errors.New(`the answer has no "results" array (of objects)`)
	}
	if len(results) != n {
		return nil, fmt.Errorf("the answer has %d results for %d events: want exactly one per event, in order", len(results), n)
	}
	out := make([]eventResult, n)
	for i, r := range results {
		outputs, hasOut := r["outputs"]
		errRaw, hasErr := r["error"]
		switch {
		case r == nil:
			return nil, fmt.Errorf(`results[%d]: null: want {"outputs": [...]} or {"error": {...}}`, i)
		case hasOut == hasErr:
			return nil, fmt.Errorf(`results[%d]: give exactly one of "outputs" (a list, [] for none) or "error"`, i)
		case hasOut:
			if bytes.Equal(outputs, null) {
				return nil, fmt.Errorf(`results[%d].outputs: null: want a list ([] for none)`, i)
			}
			var outs []json.RawMessage
			if err := json.Unmarshal(outputs, &outs); err != nil {
				return nil, fmt.Errorf("results[%d].outputs: want a list of JSON values", i)
			}
			for k, o := range outs {
				outs[k] = compact(o)
			}
			if outs == nil {
				outs = []json.RawMessage{}
			}
			out[i].outputs = outs
		default:
			e, err := decodeError(errRaw)
			if err != nil {
				return nil, fmt.Errorf("results[%d].error: %w", i, err)
			}
			out[i].err = e
		}
	}
	return out, nil
}

// eventResult is one event's part of a decoded answer.
type eventResult struct {
	outputs []json.RawMessage
	err     *Error
}

func decodeError(raw json.RawMessage) (*Error, error) {
	var e map[string]json.RawMessage
	if json.Unmarshal(raw, &e) != nil || e == nil {
		return nil, errors.New(`want an object {"type", "message", "stack"}`)
	}
	out := &Error{}
	if m, ok := e["message"]; !ok || json.Unmarshal(m, &out.Message) != nil || bytes.Equal(m, null) {
		return nil, errors.New(`"message" is required (a string)`)
	}
	if t, ok := e["type"]; ok && (json.Unmarshal(t, &out.Type) != nil || bytes.Equal(t, null)) {
		return nil, errors.New(`"type" must be a string`)
	}
	if st, ok := e["stack"]; ok {
		var stack []json.RawMessage
		if json.Unmarshal(st, &stack) != nil || bytes.Equal(st, null) {
			return nil, errors.New(`"stack" must be a list`)
		}
		out.Stack = stackStrings(stack)
	}
	bound(out)
	return out, nil
}

// stackStrings keeps a stack's entries as text: strings as they are,
// aws-lambda-go's frames as "label (path:line)", anything else as JSON.
func stackStrings(raw []json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	out := make([]string, 0, min(len(raw), maxStack))
	for _, r := range raw {
		if len(out) == maxStack {
			out = append(out, fmt.Sprintf("... %d more", len(raw)-maxStack))
			break
		}
		var s string
		if json.Unmarshal(r, &s) == nil {
			out = append(out, s)
			continue
		}
		var f struct {
			Path  string `json:"path"`
			Line  int    `json:"line"`
			Label string `json:"label"`
		}
		if json.Unmarshal(r, &f) == nil && (f.Path != "" || f.Label != "") {
			out = append(out, fmt.Sprintf("%s (%s:%d)", f.Label, f.Path, f.Line))
			continue
		}
		out = append(out, string(compact(r)))
	}
	return out
}

// bound cuts an error's fields to what a dead letter keeps.
func bound(e *Error) {
	e.Type = cut(e.Type, maxType)
	e.Message = cut(e.Message, maxMessage)
	if len(e.Stack) > maxStack+1 {
		e.Stack = e.Stack[:maxStack+1]
	}
	for i, s := range e.Stack {
		e.Stack[i] = cut(s, maxStackEntry)
	}
}

// cut shortens s to at most n bytes on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func compact(raw json.RawMessage) json.RawMessage {
	if bytes.IndexAny(raw, " \t\r\n") < 0 {
		return raw
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// quoteStart quotes the first n bytes of b, for an error.
func quoteStart(b []byte, n int) string {
	if len(b) > n {
		return fmt.Sprintf("%q…", cut(string(b), n))
	}
	return fmt.Sprintf("%q", b)
}
