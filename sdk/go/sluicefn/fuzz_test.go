package sluicefn_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/sdk/go/sluicefn"
)

// FuzzInvocation: whatever body arrives, a wrapped handler either fails the
// invocation or answers one result per event, each outputs or an error,
// and the answer is JSON sluice can read.
func FuzzInvocation(f *testing.F) {
	for _, seed := range []string{
		`{"function":"f","config":{},"events":[{"n":1},{"n":2}]}`,
		`{"events":[]}`, `{"events":null}`, `{"events":{}}`, `{"config":[1],"events":[{}]}`,
		`{"events":[1,"x",null,[],{"bad":true}]}`, `[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	h := sluicefn.Wrap(sluicefn.Typed(func(ctx context.Context, e struct {
		N   int  `json:"n"`
		Bad bool `json:"bad"`
	}, c map[string]any) ([]map[string]int, error) {
		if e.Bad {
			panic("bad")
		}
		if e.N < 0 {
			return nil, nil
		}
		return []map[string]int{{"n": e.N}}, nil
	}))
	f.Fuzz(func(t *testing.T, body []byte) {
		var inv sluicefn.Invocation
		if json.Unmarshal(body, &inv) != nil {
			return // aws-lambda-go refuses it before the handler: an invocation error
		}
		a, err := h(context.Background(), inv)
		if err != nil {
			if !strings.Contains(err.Error(), "Sluice.") {
				t.Fatalf("invocation error of no type of ours: %v", err)
			}
			return
		}
		if len(a.Results) != len(inv.Events) {
			t.Fatalf("%d results for %d events", len(a.Results), len(inv.Events))
		}
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("answer does not encode: %v", err)
		}
		var back struct {
			Results []map[string]json.RawMessage `json:"results"`
		}
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		for i, r := range back.Results {
			_, o := r["outputs"]
			_, e := r["error"]
			if o == e || len(r) != 1 {
				t.Fatalf("result %d: %s", i, out)
			}
		}
	})
}
