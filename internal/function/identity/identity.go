// Package identity is the function that returns each event as it is.
package identity

import (
	"context"
	"encoding/json"

	"github.com/sluice-dev/sluice/internal/function"
)

// Spec registers the function as "identity".
var Spec = function.Spec{
	Name: "identity",
	Doc:  "Returns every event unchanged: for copying a stream, or testing a pipeline's outputs.",
	New: func(config map[string]any) (function.Function, error) {
		var c struct{}
		if err := function.DecodeConfig(config, &c); err != nil {
			return nil, err
		}
		return identity{}, nil
	},
}

type identity struct{}

func (identity) Call(ctx context.Context, events []json.RawMessage) []function.Result {
	return function.Each(ctx, events, func(_ context.Context, e json.RawMessage) ([]json.RawMessage, error) {
		return []json.RawMessage{e}, nil
	})
}
