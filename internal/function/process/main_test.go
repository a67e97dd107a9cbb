//go:build unix

package process_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/invocation"
	"github.com/sluice-dev/sluice/internal/function/process"
	"github.com/sluice-dev/sluice/internal/function/process/processtest"
)

func TestMain(m *testing.M) {
	if script := os.Getenv("SLUICE_TEST_CLIENT"); script != "" {
		runClient(script) // this test binary, started as a function's process
		return
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func goFunction(t *testing.T) string { return processtest.GoFunction(t) }

func python(t *testing.T) string { return processtest.Python(t) }

// logs captures a function's log records.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type fixture struct {
	fn   *invocation.Function
	pool *process.Pool
	logs *logs
}

// start runs a process function; settings are its process: settings.
func start(t testing.TB, settings map[string]any, o invocation.Options) *fixture {
	t.Helper()
	l := &logs{}
	log := slog.New(slog.NewJSONHandler(l, nil))
	env := invocation.Env{Path: "functions.f.process", Dir: t.TempDir(), Log: log,
		Getenv: func(k string) string {
			switch k {
			case "FIXTURE_TOKEN":
				return "s3cret"
			case "SECRET_OF_SLUICE":
				return "never passed on"
			}
			return os.Getenv(k)
		}}
	inv, _, err := process.Kind.New("f", settings, env)
	if err != nil {
		t.Fatal(err)
	}
	if o.Name == "" {
		o.Name = "f"
	}
	o.Log = log
	fn, err := invocation.New(inv, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fn.Close() })
	return &fixture{fn: fn, pool: inv.(*process.Pool), logs: l}
}

// batch is n events {"n": i}, with "do" set for some.
func batch(n int, do map[int]string) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range out {
		out[i] = json.RawMessage(fmt.Sprintf(`{"n":%d,"do":%q}`, i, do[i]))
	}
	return out
}

// checkOK checks that every event but those in bad has exactly one
// output, its own, and returns the errors of the bad ones.
func checkOK(t testing.TB, res []function.Result, n int, bad ...int) map[int]*function.CallError {
	t.Helper()
	if len(res) != n {
		t.Fatalf("%d results for %d events", len(res), n)
	}
	isBad := map[int]bool{}
	for _, b := range bad {
		isBad[b] = true
	}
	errs := map[int]*function.CallError{}
	for i, r := range res {
		if isBad[i] {
			var ce *function.CallError
			if !errors.As(r.Err, &ce) {
				t.Fatalf("event %d: want a CallError, got %v (outputs %s)", i, r.Err, r.Outputs)
			}
			errs[i] = ce
			continue
		}
		if r.Err != nil {
			t.Fatalf("event %d failed: %v", i, r.Err)
		}
		if len(r.Outputs) != 1 {
			t.Fatalf("event %d: %d outputs", i, len(r.Outputs))
		}
		var o struct{ N int }
		if err := json.Unmarshal(r.Outputs[0], &o); err != nil || o.N != i {
			t.Fatalf("event %d: output %s", i, r.Outputs[0])
		}
	}
	return errs
}

func state(p *process.Pool) process.State { return p.State().(process.State) }

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Fatalf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}

var bg = context.Background()
