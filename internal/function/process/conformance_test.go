//go:build unix

package process_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sluice-dev/sluice/internal/function/functiontest"
	"github.com/sluice-dev/sluice/internal/function/invocation"
	"github.com/sluice-dev/sluice/internal/function/process/processtest"
)

// The test functions in Go (aws-lambda-go) and Python (the Runtime API in
// the standard library), two instances each, batches of at most 8: a call
// of many events spreads over invocations and processes.
func TestConformance(t *testing.T) {
	do := func(what string) func(n int) json.RawMessage {
		return func(n int) json.RawMessage { return fmt.Appendf(nil, `{"n":%d,"do":%q}`, n, what) }
	}
	for lang, settings := range map[string]func(t *testing.T) map[string]any{
		"go": func(t *testing.T) map[string]any { return goSettings(t, map[string]any{"instances": 2}) },
		"python": func(t *testing.T) map[string]any {
			return map[string]any{"command": []any{python(t), "behave.py"}, "dir": processtest.Testdata(), "instances": 2}
		},
	} {
		t.Run(lang, func(t *testing.T) {
			functiontest.Run(t, func(t *testing.T) functiontest.Subject {
				f := start(t, settings(t), invocation.Options{MaxBatch: 8})
				return functiontest.Subject{Function: f.fn, Event: functiontest.N, Check: functiontest.CheckN,
					Failing: do("fail"), Slow: do("hang")}
			})
		})
	}
}
