package invocation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
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
// results, each outputs or an error. It reads the answer once, as a
// stream of tokens (jsontext): names are exact and appear once, as the
// contract's schema says (encoding/json would match "Outputs" too, and
// read a 100-event answer four times over). Outputs keep their bytes,
// on one line. The error names the rule the answer breaks.
func decodeAnswer(body []byte, n int) ([]eventResult, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	notJSON := func(err error) error {
		return fmt.Errorf("the answer is not the JSON of {\"results\": [...]}: %w (it begins %s)", err, quoteStart(body, 120))
	}
	if err := expect(dec, '{'); err != nil {
		return nil, notJSON(err)
	}
	var out []eventResult
	seen := false
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return nil, notJSON(err)
		}
		if name.String() != "results" {
			if err := dec.SkipValue(); err != nil {
				return nil, notJSON(err)
			}
			continue
		}
		seen = true
		if dec.PeekKind() != '[' {
			return nil, errors.New(`the answer has no "results" array (of objects)`)
		}
		if out, err = decodeResults(dec, n); err != nil {
			var re *resultError
			if errors.As(err, &re) {
				return nil, re.err
			}
			return nil, notJSON(err)
		}
	}
	if err := expect(dec, '}'); err != nil {
		return nil, notJSON(err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, notJSON(errors.New("more after the answer's object"))
	}
	if !seen {
		return nil, errors.New(`the answer has no "results" array (of objects)`)
	}
	if len(out) != n {
		return nil, fmt.Errorf("the answer has %d results for %d events: want exactly one per event, in order", len(out), n)
	}
	return out, nil
}

// resultError is a result that breaks the contract (not a JSON error).
type resultError struct{ err error }

func (e *resultError) Error() string { return e.err.Error() }

func decodeResults(dec *jsontext.Decoder, n int) ([]eventResult, error) {
	if err := expect(dec, '['); err != nil {
		return nil, err
	}
	out := make([]eventResult, 0, n)
	for i := 0; dec.PeekKind() != ']'; i++ {
		if i > n { // more than asked for: say so without reading them all
			return nil, &resultError{fmt.Errorf("the answer has more than %d results for %d events: want exactly one per event, in order", n, n)}
		}
		if k := dec.PeekKind(); k != '{' {
			if kindName(k) == "" { // not JSON: the syntax error
				_, err := dec.ReadToken()
				return nil, err
			}
			return nil, &resultError{fmt.Errorf(`results[%d]: %s: want {"outputs": [...]} or {"error": {...}}`, i, kindName(k))}
		}
		r, err := decodeResult(dec, i)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, expect(dec, ']')
}

func decodeResult(dec *jsontext.Decoder, i int) (eventResult, error) {
	var r eventResult
	if err := expect(dec, '{'); err != nil {
		return r, err
	}
	var hasOut, hasErr bool
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return r, err
		}
		switch name.String() {
		case "outputs":
			hasOut = true
			if k := dec.PeekKind(); k != '[' {
				if err := dec.SkipValue(); err != nil { // a syntax error
					return r, err
				}
				return r, &resultError{fmt.Errorf(`results[%d].outputs: %s: want a list of JSON values ([] for none)`, i, kindName(k))}
			}
			if r.outputs, err = decodeOutputs(dec); err != nil {
				return r, err
			}
		case "error":
			hasErr = true
			v, err := dec.ReadValue()
			if err != nil {
				return r, err
			}
			if r.err, err = decodeError(json.RawMessage(v)); err != nil {
				return r, &resultError{fmt.Errorf("results[%d].error: %w", i, err)}
			}
		default:
			if err := dec.SkipValue(); err != nil {
				return r, err
			}
		}
	}
	if err := expect(dec, '}'); err != nil {
		return r, err
	}
	if hasOut == hasErr {
		return r, &resultError{fmt.Errorf(`results[%d]: give exactly one of "outputs" (a list, [] for none) or "error"`, i)}
	}
	return r, nil
}

func decodeOutputs(dec *jsontext.Decoder) ([]json.RawMessage, error) {
	if err := expect(dec, '['); err != nil {
		return nil, err
	}
	outs := []json.RawMessage{}
	for dec.PeekKind() != ']' {
		v, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		o := json.RawMessage(bytes.Clone(v))
		if bytes.ContainsAny(o, "\r\n") { // stored events are one line
			o = compact(o)
		}
		outs = append(outs, o)
	}
	return outs, expect(dec, ']')
}

// kindName names a JSON value's kind in errors; "" for a byte that
// starts none (PeekKind gives it, and the next read the syntax error).
func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "" // not the start of a JSON value
}

// expect reads the delimiter d.
func expect(dec *jsontext.Decoder, d byte) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	if k := tok.Kind(); byte(k) != d {
		return fmt.Errorf("want %q, found %v at %s", d, k, dec.StackPointer())
	}
	return nil
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
