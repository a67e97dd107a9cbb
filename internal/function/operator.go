package function

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sort"
	"strings"
)

// Operator fields are the network targets of a function (the hosts it may
// call, a base URL): where the node connects is the operator's choice, so
// only the node's config sets them. A pipeline's function config is the
// operator's; an invoke request (POST /v1/functions/{name}/invoke) is
// anyone's who can reach the API, and may never set or widen them: it gets
// the operator's values, or the kind's defaults.

// OperatorFieldError is why an invoke request is refused: its config sets
// an operator field.
type OperatorFieldError struct {
	Function string
	Field    string // the field's name in the spec
	Key      string // as the request spelled it
}

func (e *OperatorFieldError) Error() string {
	return fmt.Sprintf("%s: config.%s: set by the node's operator only (a network target, taken from the node's config), "+
		"never by a request; leave it out", e.Function, e.Key)
}

// ErrOperatorConflict is returned for a kind whose pipelines give its
// operator fields different values: no single value is the operator's.
var ErrOperatorConflict = errors.New("the pipelines using this function give its operator fields different values")

// Use is one configured use of a function kind: a pipeline's function.
type Use struct {
	Function string
	Config   map[string]any
}

// operatorValues is what the node's config gives a kind's operator fields.
type operatorValues struct {
	values map[string]any // by field name
	err    error
}

// OperatorFields are the names of the spec's operator fields.
func (s Spec) OperatorFields() []string {
	var out []string
	for _, f := range s.Fields {
		if f.Operator {
			out = append(out, f.Name)
		}
	}
	return out
}

// operatorField is the operator field a config key sets, or "". Keys are
// matched as DecodeConfig (encoding/json) matches them, without regard to
// case, so "API_BASE" cannot slip past.
func (s Spec) operatorField(key string) string {
	for _, f := range s.Fields {
		if f.Operator && strings.EqualFold(key, f.Name) {
			return f.Name
		}
	}
	return ""
}

// SetOperatorValues takes the values of every kind's operator fields from
// the node's configured uses, keyed by where they are configured
// ("pipelines.wiki"). The uses of one kind must
// agree (all set the same operator fields to the same values); if they do
// not, invoking that kind is refused with ErrOperatorConflict. A kind no
// use names runs with its defaults.
func (r *Registry) SetOperatorValues(uses map[string]Use) {
	names := make([]string, 0, len(uses))
	for n := range uses {
		names = append(names, n)
	}
	sort.Strings(names)
	ops := map[string]operatorValues{}
	first := map[string]string{} // kind -> the first use that set its values
	for _, n := range names {
		u := uses[n]
		s, err := r.Spec(u.Function)
		if err != nil || len(s.OperatorFields()) == 0 {
			continue
		}
		vals := map[string]any{}
		for k, v := range u.Config {
			if f := s.operatorField(k); f != "" {
				vals[f] = v
			}
		}
		prev, seen := first[u.Function]
		switch {
		case !seen:
			first[u.Function] = n
			ops[u.Function] = operatorValues{values: vals}
		case ops[u.Function].err == nil && !reflect.DeepEqual(ops[u.Function].values, vals):
			ops[u.Function] = operatorValues{err: fmt.Errorf("%w: %s set differently by %s and %s; invoke one of those pipelines (POST /v1/pipelines/{name}/invoke), "+
				"or give them the same values", ErrOperatorConflict, strings.Join(s.OperatorFields(), ", "), prev, n)}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.operator = ops
}

// Invoke builds a function for a request: its config may not set an
// operator field (*OperatorFieldError); those come from the node's config
// (SetOperatorValues) or are the kind's defaults.
func (r *Registry) Invoke(name string, config map[string]any) (Function, error) {
	if n, ok := r.Lookup(name); ok {
		return n.use(config) // the operator's own declaration: a request gives it no config
	}
	s, err := r.Spec(name)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(config))
	for k := range config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if f := s.operatorField(k); f != "" {
			return nil, &OperatorFieldError{Function: name, Field: f, Key: k}
		}
	}
	r.mu.RLock()
	op := r.operator[name]
	r.mu.RUnlock()
	if op.err != nil {
		return nil, op.err
	}
	merged := maps.Clone(config)
	if merged == nil {
		merged = map[string]any{}
	}
	maps.Copy(merged, op.values)
	return r.New(name, merged)
}
