// Package filter evaluates CEL expressions over events: a source's drop
// rule, a pipeline's where clause, the UI's message filter. The event is
// the variable `event` (a JSON object); the expression must be boolean.
package filter

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/cel-go/cel"
)

// ErrInvalid is wrapped by errors about the expression itself.
var ErrInvalid = errors.New("invalid filter")

// Filter is a compiled boolean CEL expression.
type Filter struct {
	src  string
	name string
	prg  cel.Program
}

// Compile checks an expression, e.g. `event.meta.domain == "canary"`.
func Compile(expr string) (*Filter, error) { return CompileVar(expr, "event") }

// CompileVar is Compile with another name for the variable (e.g. "output").
func CompileVar(expr, name string) (*Filter, error) {
	env, err := cel.NewEnv(cel.Variable(name, cel.DynType))
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalid, expr, iss.Err())
	}
	if t := ast.OutputType(); t != cel.BoolType && t != cel.DynType {
		return nil, fmt.Errorf("%w: %q is a %s, want a bool", ErrInvalid, expr, t)
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(1_000_000))
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalid, expr, err)
	}
	return &Filter{src: expr, name: name, prg: prg}, nil
}

// String returns the expression.
func (f *Filter) String() string { return f.src }

// Match evaluates the expression on a decoded event (json.Number values in
// it are replaced by int64 or float64 in place). An error (a missing
// field, a wrong type) says why it could not be decided; callers choose
// what that means (a drop rule keeps the event).
func (f *Filter) Match(event any) (bool, error) {
	out, _, err := f.prg.Eval(map[string]any{f.name: numbers(event)})
	if err != nil {
		return false, fmt.Errorf("filter %q: %w", f.src, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("filter %q: result is %v, not a bool", f.src, out.Value())
	}
	return b, nil
}

// numbers turns json.Number (as the validator decodes) into int64 or
// float64, which CEL compares with its own numbers.
func numbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, x := range t {
			if n := numbers(x); n != nil {
				t[k] = n
			}
		}
	case []any:
		for i, x := range t {
			t[i] = numbers(x)
		}
	}
	return v
}

// Expr is a compiled CEL expression of any type (e.g. a table's key).
type Expr struct {
	src  string
	name string
	prg  cel.Program
}

// CompileExpr checks an expression over the variable name.
func CompileExpr(expr, name string) (*Expr, error) {
	env, err := cel.NewEnv(cel.Variable(name, cel.DynType))
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalid, expr, iss.Err())
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(1_000_000))
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalid, expr, err)
	}
	return &Expr{src: expr, name: name, prg: prg}, nil
}

// String evaluates the expression on a decoded value; the result must be
// a string or a number, written as text.
func (e *Expr) String(v any) (string, error) {
	out, _, err := e.prg.Eval(map[string]any{e.name: numbers(v)})
	if err != nil {
		return "", fmt.Errorf("%q: %w", e.src, err)
	}
	switch x := out.Value().(type) {
	case string:
		return x, nil
	case int64, uint64, float64:
		return fmt.Sprint(x), nil
	}
	return "", fmt.Errorf("%q gives %v, not a string", e.src, out.Value())
}
