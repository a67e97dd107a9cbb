//go:build unix

package process_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/identity"
	"github.com/sluice-dev/sluice/internal/function/invocation"
	"github.com/sluice-dev/sluice/internal/function/process/processtest"
)

// event1K is an event of about 1 KB, as the benchmarks' streams hold.
func event1K(i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"meta":{"id":"e%07d","dt":"2026-11-27T10:00:00Z"},"n":%d,"pad":%q}`, i, i, strings.Repeat("x", 940)))
}

// BenchmarkInvocation is the cost of one invocation of a batch (1 or 100
// events of 1 KB) through the Runtime API, against the built-in identity
// called in the process: their difference is the invocation's overhead.
func BenchmarkInvocation(b *testing.B) {
	for _, size := range []int{1, 100} {
		events := make([]json.RawMessage, size)
		for i := range events {
			events[i] = event1K(i)
		}
		b.Run(fmt.Sprintf("events=%d/builtin-identity", size), func(b *testing.B) {
			f, _ := identity.Spec.New(nil)
			bench(b, f, events)
		})
		b.Run(fmt.Sprintf("events=%d/go-aws-lambda-go", size), func(b *testing.B) {
			f := start(b, map[string]any{"command": []any{processtest.GoFunction(b)}, "env": map[string]any{"FIXTURE_MODE": "identity"}}, invocation.Options{})
			bench(b, f.fn, events)
		})
		b.Run(fmt.Sprintf("events=%d/python-stdlib", size), func(b *testing.B) {
			f := start(b, map[string]any{"command": []any{processtest.Python(b), "identity.py"}, "dir": processtest.Testdata()}, invocation.Options{})
			bench(b, f.fn, events)
		})
	}
}

func bench(b *testing.B, f function.Function, events []json.RawMessage) {
	checkOK(b, f.Call(bg, events), len(events)) // and the process is up
	b.ResetTimer()
	for range b.N {
		if res := f.Call(bg, events); res[len(res)-1].Err != nil {
			b.Fatal(res[len(res)-1].Err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/batch")
}
