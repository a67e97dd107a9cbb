package function_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/functiontest"
)

func TestIdentityConformance(t *testing.T) {
	functiontest.Run(t, func(t *testing.T) functiontest.Subject {
		return functiontest.Subject{Function: newFunction(t, "identity", nil), Event: functiontest.N, Check: functiontest.CheckN}
	})
}

// TestJQConformance: a program that fails the events asking it to, and
// computes for a very long time for those asking for it.
func TestJQConformance(t *testing.T) {
	program := `if .do == "fail" then error("event \(.n) is bad") elif .do == "slow" then last(range(1e15)) else {n} end`
	functiontest.Run(t, func(t *testing.T) functiontest.Subject {
		return functiontest.Subject{
			Function: newFunction(t, "jq", map[string]any{"program": program}),
			Event:    functiontest.N,
			Check:    functiontest.CheckN,
			Failing:  func(n int) json.RawMessage { return fmt.Appendf(nil, `{"n":%d,"do":"fail"}`, n) },
			Slow:     func(n int) json.RawMessage { return fmt.Appendf(nil, `{"n":%d,"do":"slow"}`, n) },
		}
	})
}

func newFunction(t *testing.T, name string, config map[string]any) function.Function {
	t.Helper()
	f, err := registry().New(name, config)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
