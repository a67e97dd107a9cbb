package function

import (
	"errors"
	"fmt"
	"io"
	"sort"
)

// Named is a function the operator declared by name (functions: in the
// config): a built-in kind with a preset config, or code of the operator's
// own run by sluice (kinds process and http, see package invocation).
// Pipelines and invoke requests use it by name and give no config; the
// registry owns it and closes it in Close.
type Named struct {
	Name     string         `json:"name"`
	Kind     string         `json:"kind"` // process, http, or the built-in kind it presets
	Doc      string         `json:"doc,omitempty"`
	Settings any            `json:"settings,omitempty"` // the kind's settings as configured, secrets left out
	Config   map[string]any `json:"config,omitempty"`
	MaxBatch int            `json:"max_batch,omitempty"`
	Payload  string         `json:"payload,omitempty"`
	Function Function       `json:"-"`
	// State reports what the function is doing (its processes, its
	// endpoint); nil when there is nothing to report.
	State func() any `json:"-"`
}

// ErrPreset is returned when a request gives a config to a named function.
var ErrPreset = fmt.Errorf("%w: a named function's config is the operator's (functions: in the node's config); give none", ErrConfig)

// Declare adds a named function. Its name cannot be a kind's or another
// named function's.
func (r *Registry) Declare(n Named) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.specs[n.Name]; dup {
		return fmt.Errorf("%q is the name of a built-in function kind", n.Name)
	}
	if _, dup := r.named[n.Name]; dup {
		return fmt.Errorf("function %q declared twice", n.Name)
	}
	if r.named == nil {
		r.named = map[string]Named{}
	}
	r.named[n.Name] = n
	return nil
}

// Undeclare takes a named function out of the registry and returns it:
// the caller closes it once nothing uses it any more (a definition
// changed or deleted while the node runs).
func (r *Registry) Undeclare(name string) (Named, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.named[name]
	delete(r.named, name)
	return n, ok
}

// Check reports whether a built-in kind takes config (errors name the
// field), building the function once and closing it.
func (r *Registry) Check(kind string, config map[string]any) error {
	f, err := r.New(kind, config)
	if err != nil {
		return err
	}
	if c, ok := f.(io.Closer); ok {
		_ = c.Close()
	}
	return nil
}

// Builtin reports whether name is a built-in kind.
func (r *Registry) Builtin(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.specs[name]
	return ok
}

// Lookup returns a named function.
func (r *Registry) Lookup(name string) (Named, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n, ok := r.named[name]
	return n, ok
}

// Named lists the named functions by name.
func (r *Registry) Named() []Named {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Named, 0, len(r.named))
	for _, n := range r.named {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Close stops the named functions (their processes, their connections).
func (r *Registry) Close() error {
	var errs []error
	for _, n := range r.Named() {
		if c, ok := n.Function.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("function %q: %w", n.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// use is what New gives for a named function: the one shared instance,
// which its users (pipelines, invoke requests) cannot close.
func (n Named) use(config map[string]any) (Function, error) {
	if len(config) > 0 {
		return nil, fmt.Errorf("function %q: %w", n.Name, ErrPreset)
	}
	return shared{n.Function}, nil
}

// shared hides the function's Close from those who only use it.
type shared struct{ Function }
