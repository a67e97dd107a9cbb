package sluicefn

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Typed makes a Handler of a function of Go values: the event is decoded
// into E and the config into C (an event that does not decode is that
// event's error, naming the field), and each output is encoded as JSON.
func Typed[E, C, O any](f func(ctx context.Context, event E, config C) ([]O, error)) Handler {
	return func(ctx context.Context, event, config json.RawMessage) ([]json.RawMessage, error) {
		var c C
		if err := json.Unmarshal(config, &c); err != nil {
			return nil, &Error{Type: "InvalidConfig", Message: "config: " + decodeMessage(err)}
		}
		var e E
		if err := json.Unmarshal(event, &e); err != nil {
			return nil, &Error{Type: "InvalidEvent", Message: "event: " + decodeMessage(err)}
		}
		outs, err := f(ctx, e, c)
		if err != nil {
			return nil, err
		}
		raws := make([]json.RawMessage, len(outs))
		for i, o := range outs {
			b, err := json.Marshal(o)
			if err != nil {
				return nil, fmt.Errorf("output %d: %w", i, err)
			}
			raws[i] = b
		}
		return raws, nil
	}
}

func decodeMessage(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Sprintf("/%s: want %s, got %s", strings.ReplaceAll(te.Field, ".", "/"), te.Type, te.Value)
	}
	return err.Error()
}
