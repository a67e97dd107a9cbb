// Package jq is the function that reshapes events with a jq program
// (github.com/itchyny/gojq): each value the program emits is an output.
package jq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/itchyny/gojq"

	"github.com/sluice-dev/sluice/internal/function"
)

// Config is the jq function's config.
type Config struct {
	// Program is a jq program, e.g. `{title, wiki, user}` or `select(.bot | not)`.
	Program string `json:"program"`
}

// Spec registers the function as "jq".
var Spec = function.Spec{
	Name: "jq",
	Doc:  "Reshapes each event with a jq program; every value it emits is an output (none: the event is filtered out).",
	Fields: []function.Field{{Name: "program", Type: "string", Required: true,
		Doc: "a jq program, e.g. `{title, wiki, user}` or `select(.bot | not)`"}},
	New: func(config map[string]any) (function.Function, error) {
		var c Config
		if err := function.DecodeConfig(config, &c); err != nil {
			return nil, err
		}
		if c.Program == "" {
			return nil, errors.New("program: required")
		}
		q, err := gojq.Parse(c.Program)
		if err != nil {
			return nil, fmt.Errorf("program: %w", err)
		}
		code, err := gojq.Compile(q)
		if err != nil {
			return nil, fmt.Errorf("program: %w", err)
		}
		return &jq{code: code}, nil
	},
}

type jq struct{ code *gojq.Code }

// maxOutputs bounds what one event can produce, so a runaway program
// (e.g. `range(1e9)`) fails instead of filling memory.
const maxOutputs = 10000

func (j *jq) Call(ctx context.Context, events []json.RawMessage) []function.Result {
	return function.Each(ctx, events, func(ctx context.Context, e json.RawMessage) ([]json.RawMessage, error) {
		var in any
		if err := json.Unmarshal(e, &in); err != nil {
			return nil, fmt.Errorf("event is not JSON: %w", err)
		}
		var out []json.RawMessage
		iter := j.code.RunWithContext(ctx, in)
		for {
			v, ok := iter.Next()
			if !ok {
				return out, nil
			}
			if err, isErr := v.(error); isErr {
				var halt *gojq.HaltError
				if errors.As(err, &halt) && halt.Value() == nil {
					return out, nil
				}
				return nil, fmt.Errorf("jq: %w", err)
			}
			b, err := gojq.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("jq output: %w", err)
			}
			if len(out) == maxOutputs {
				return nil, fmt.Errorf("jq: more than %d outputs for one event", maxOutputs)
			}
			out = append(out, b)
		}
	})
}
