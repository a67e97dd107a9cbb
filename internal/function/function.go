// Package function defines what a pipeline calls: a Function takes a batch
// of events and returns, per input event, zero or more output events or an
// error. Functions register by name with a Spec (config fields, defaults,
// docs) that validates their config with path-qualified errors; the same
// function runs in pipelines and is invoked directly over HTTP.
package function

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Function processes batches of events. Call returns exactly one Result per
// input, in order. It must honour ctx and be safe for concurrent use.
type Function interface {
	Call(ctx context.Context, events []json.RawMessage) []Result
}

// Result is what one input event produced.
type Result struct {
	Outputs []json.RawMessage `json:"outputs"`
	Err     error             `json:"-"`
}

// Field documents one config field.
type Field struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Default  any    `json:"default,omitempty"`
	Required bool   `json:"required,omitempty"`
	Doc      string `json:"doc"`
	// Operator marks a network target (hosts that may be called, a base
	// URL): only the node's config sets it, an invoke request never (see
	// Registry.Invoke).
	Operator bool `json:"operator,omitempty"`
}

// Spec describes a function kind.
type Spec struct {
	Name   string  `json:"name"`
	Doc    string  `json:"doc"`
	Fields []Field `json:"fields"`
	// New builds a function from its config (already decoded from YAML or
	// JSON); errors name the field ("batch_size: must be 1 to 50").
	New func(config map[string]any) (Function, error) `json:"-"`
}

// ErrUnknown is returned for a function name nobody registered.
var ErrUnknown = errors.New("unknown function")

// ErrConfig wraps config errors.
var ErrConfig = errors.New("invalid function config")

// Registry holds the function kinds a node knows.
type Registry struct {
	mu       sync.RWMutex
	specs    map[string]Spec
	operator map[string]operatorValues // by kind: see SetOperatorValues
	named    map[string]Named          // declared by the operator: see named.go
}

// NewRegistry makes a registry with the given specs.
func NewRegistry(specs ...Spec) *Registry {
	r := &Registry{specs: map[string]Spec{}}
	for _, s := range specs {
		r.Register(s)
	}
	return r
}

// Register adds a function kind; a second one of the same name panics.
func (r *Registry) Register(s Spec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.specs[s.Name]; dup {
		panic("function: " + s.Name + " registered twice")
	}
	r.specs[s.Name] = s
}

// Specs lists the registered kinds by name.
func (r *Registry) Specs() []Spec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Spec, 0, len(r.specs))
	for _, s := range r.specs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Spec returns one kind.
func (r *Registry) Spec(name string) (Spec, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.specs[name]
	if !ok {
		names := make([]string, 0, len(r.specs)+len(r.named))
		for n := range r.specs {
			names = append(names, n)
		}
		for n := range r.named {
			names = append(names, n)
		}
		sort.Strings(names)
		return Spec{}, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(names, ", "))
	}
	return s, nil
}

// New builds a function by name.
func (r *Registry) New(name string, config map[string]any) (Function, error) {
	if n, ok := r.Lookup(name); ok {
		return n.use(config)
	}
	s, err := r.Spec(name)
	if err != nil {
		return nil, err
	}
	f, err := s.New(config)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
	}
	return f, nil
}

// DecodeConfig fills a typed config struct from a decoded map: unknown
// fields are errors, and type errors name the field.
func DecodeConfig(config map[string]any, into any) error {
	raw, err := json.Marshal(config)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s: want %s, got %s", te.Field, te.Type, te.Value)
		}
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// Each calls f on every event of a batch independently: for functions that
// do not batch.
func Each(ctx context.Context, events []json.RawMessage, f func(ctx context.Context, e json.RawMessage) ([]json.RawMessage, error)) []Result {
	out := make([]Result, len(events))
	for i, e := range events {
		if err := ctx.Err(); err != nil {
			out[i].Err = err
			continue
		}
		out[i].Outputs, out[i].Err = f(ctx, e)
	}
	return out
}

// CallError is a function's failure for one event, with what a dead
// letter should show: the attempts made and, for HTTP calls, the status
// and the start of the body; for code of the operator's own (process and
// http functions, see package invocation), the error's type and stack as
// the code reported them, the end of the process's stderr and how it ended.
type CallError struct {
	Err      error
	Attempts int
	Status   int      // HTTP status of the last attempt, 0 if none
	Body     string   // the first 2 KiB of the last response body
	Type     string   // the error's type, e.g. KeyError or Sandbox.Timedout
	Stack    []string // the stack trace the function reported
	Stderr   string   // the last 8 KiB of the process's stderr
	Exit     string   // how the process ended: "exit status 2", "signal: killed"
}

func (e *CallError) Error() string {
	msg := e.Err.Error()
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	return msg
}

func (e *CallError) Unwrap() error { return e.Err }
