package sluicefn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/sdk/go/sluicefn"
)

// A function of Go values; main would call sluicefn.Start(sluicefn.Typed(upper)).
func ExampleTyped() {
	type event struct {
		Title string `json:"title"`
	}
	type config struct {
		Prefix string `json:"prefix"`
	}
	upper := func(ctx context.Context, e event, c config) ([]event, error) {
		if e.Title == "" {
			return nil, nil // filtered out
		}
		return []event{{Title: c.Prefix + strings.ToUpper(e.Title)}}, nil
	}
	// What sluice would get, without any runtime: for the function's unit tests.
	answer, _ := sluicefn.Wrap(sluicefn.Typed(upper))(context.Background(), sluicefn.Invocation{
		Config: json.RawMessage(`{"prefix":"re: "}`),
		Events: []json.RawMessage{json.RawMessage(`{"title":"sluice"}`), json.RawMessage(`{}`)},
	})
	b, _ := json.Marshal(answer)
	fmt.Println(string(b))
	// Output: {"results":[{"outputs":[{"title":"re: SLUICE"}]},{"outputs":[]}]}
}
