package httpfn_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sluice-dev/sluice/internal/function/functiontest"
)

// An endpoint on loopback speaking the invocation contract, four requests
// in flight at most, batches of at most 8.
func TestConformance(t *testing.T) {
	do := func(what string) func(n int) json.RawMessage {
		return func(n int) json.RawMessage { return fmt.Appendf(nil, `{"n":%d,"do":%q}`, n, what) }
	}
	functiontest.Run(t, func(t *testing.T) functiontest.Subject {
		e := newEndpoint(t)
		f := newFunction(t, map[string]any{"url": e.URL, "concurrency": 4})
		return functiontest.Subject{Function: f, Event: functiontest.N, Check: functiontest.CheckN,
			Failing: do("fail"), Slow: do("hang")}
	})
}
