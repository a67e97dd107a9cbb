//go:build unix

package process_test

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/invocation"
	"github.com/sluice-dev/sluice/internal/function/process"
	"github.com/sluice-dev/sluice/internal/function/process/processtest"
)

func goSettings(t *testing.T, extra map[string]any) map[string]any {
	s := map[string]any{"command": []any{goFunction(t)}}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

func TestGoHandlerBatches(t *testing.T) {
	f := start(t, goSettings(t, map[string]any{"instances": 2}), invocation.Options{MaxBatch: 7, Config: map[string]any{"k": "v"}})
	res := f.fn.Call(bg, batch(50, nil))
	checkOK(t, res, 50)
	var o struct {
		By, Function string
		Config       map[string]string
	}
	json.Unmarshal(res[3].Outputs[0], &o)
	if o.By != "go" || o.Function != "f" || o.Config["k"] != "v" {
		t.Fatalf("output %s", res[3].Outputs[0])
	}
	s := state(f.pool)
	if s.State != "ready" || len(s.Instances) != 2 || s.Invocations != 8 || s.Failures != 0 {
		t.Fatalf("state %+v", s)
	}
	for _, in := range s.Instances {
		if in.PID == 0 || in.Restarts != 0 {
			t.Fatalf("instance %+v", in)
		}
	}
}

func TestLambdaContext(t *testing.T) {
	f := start(t, goSettings(t, map[string]any{"timeout": "7s", "memory_size": 512,
		"env": map[string]any{"FIXTURE_TOKEN": "${FIXTURE_TOKEN}"}}), invocation.Options{})
	before := time.Now()
	res := f.fn.Call(bg, batch(1, map[int]string{0: "context"}))
	after := time.Now()
	checkOK(t, res, 1)
	var o struct {
		RequestID  string `json:"request_id"`
		ARN        string
		DeadlineMS int64  `json:"deadline_ms"`
		Name       string `json:"function_name"`
		Memory     int
		Version    string
		LogGroup   string `json:"log_group"`
		LogStream  string `json:"log_stream"`
		Trace      string
		Env        map[string]string
		Cwd        string
	}
	if err := json.Unmarshal(res[0].Outputs[0], &o); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(o.RequestID) || o.ARN != "arn:aws:lambda:sluice:000000000000:function:f" {
		t.Fatalf("request id, arn: %+v", o)
	}
	if o.DeadlineMS < before.Add(7*time.Second).UnixMilli()-1 || o.DeadlineMS > after.Add(7*time.Second).UnixMilli() {
		t.Fatalf("deadline %d is not the invocation's start + 7s (%d..%d)", o.DeadlineMS, before.Add(7*time.Second).UnixMilli(), after.Add(7*time.Second).UnixMilli())
	}
	if o.Name != "f" || o.Memory != 512 || o.Version != "$LATEST" || o.LogGroup != "/sluice/functions/f" || o.LogStream != "instance-0" {
		t.Fatalf("lambdacontext: %+v", o)
	}
	if !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`).MatchString(o.Trace) {
		t.Fatalf("trace id %q", o.Trace)
	}
	if o.Env["SLUICE_FUNCTION"] != "f" || o.Env["SLUICE_INSTANCE"] != "0" || o.Env["FIXTURE_TOKEN"] != "s3cret" ||
		o.Env["SECRET_OF_SLUICE"] != "" || o.Env["LAMBDA_TASK_ROOT"] != o.Cwd || o.Env["HOME"] != os.Getenv("HOME") {
		t.Fatalf("environment: %+v (cwd %s)", o.Env, o.Cwd)
	}
}

func TestPerEventError(t *testing.T) {
	f := start(t, goSettings(t, nil), invocation.Options{})
	res := f.fn.Call(bg, batch(10, map[int]string{4: "fail"}))
	e := checkOK(t, res, 10, 4)[4]
	if e.Type != "BadEvent" || e.Attempts != 1 || len(e.Stack) != 2 || !strings.Contains(e.Error(), "BadEvent: event 4 is bad") {
		t.Fatalf("error %+v", e)
	}
	mustContain(t, "stderr", e.Stderr, "event 4 is bad")
	if s := state(f.pool); s.Invocations != 1 || s.Instances[0].Restarts != 0 {
		t.Fatalf("a per-event error split the batch or restarted the process: %+v", s)
	}
}

func TestInvocationErrorIsBisected(t *testing.T) {
	f := start(t, goSettings(t, nil), invocation.Options{})
	res := f.fn.Call(bg, batch(8, map[int]string{5: "error"}))
	e := checkOK(t, res, 8, 5)[5]
	// 8 -> 4 -> 2 -> 1: the event was in four invocations.
	if e.Type != "errorString" || e.Attempts != 4 || !strings.Contains(e.Error(), "the batch cannot be done after 4 attempts") {
		t.Fatalf("error %+v: %v", e, e)
	}
	// 1 + 2 + 2 + 2 invocations; the process reported the errors and went on.
	if s := state(f.pool); s.Invocations != 7 || s.Failures != 4 || s.Instances[0].Restarts != 0 {
		t.Fatalf("state %+v", s)
	}
}

func TestPanicIsBisected(t *testing.T) {
	f := start(t, goSettings(t, nil), invocation.Options{})
	res := f.fn.Call(bg, batch(4, map[int]string{0: "panic"}))
	e := checkOK(t, res, 4, 0)[0]
	if e.Type != "string" || !strings.Contains(e.Error(), "event 0 made me panic") || len(e.Stack) == 0 {
		t.Fatalf("error %+v", e)
	}
	mustContain(t, "stack", strings.Join(e.Stack, "\n"), "handler.Invoke (lambdago/main.go:")
	mustContain(t, "stderr", e.Stderr, "about to panic")
	// aws-lambda-go exits after reporting a panic: started again each time.
	waitFor(t, "restarts", func() bool { return state(f.pool).Instances[0].Restarts >= 1 })
}

func TestCrashIsBisected(t *testing.T) {
	f := start(t, goSettings(t, map[string]any{"instances": 2}), invocation.Options{})
	res := f.fn.Call(bg, batch(20, map[int]string{13: "exit"}))
	e := checkOK(t, res, 20, 13)[13]
	if e.Type != invocation.TypeExit || e.Exit != "exit status 3" || e.Attempts != 6 {
		t.Fatalf("error %+v: %v", e, e)
	}
	mustContain(t, "stderr", e.Stderr, "event 13: exiting with 3")
	mustContain(t, "error", e.Error(), "Runtime.ExitError: the process ended while it held the invocation (exit status 3) after 6 attempts")
	waitFor(t, "ready again", func() bool {
		s := state(f.pool)
		return s.Instances[0].State == "ready" && s.Instances[1].State == "ready" && s.Instances[0].Restarts+s.Instances[1].Restarts == 6
	})
	mustContain(t, "log", f.logs.String(), `"msg":"function process ended"`, `"exit":"exit status 3"`, `"line":"event 13: exiting with 3"`, `"stream":"stderr"`)
}

func TestHangTimesOut(t *testing.T) {
	f := start(t, goSettings(t, map[string]any{"timeout": "500ms"}), invocation.Options{})
	res := f.fn.Call(bg, batch(4, map[int]string{1: "hang"}))
	e := checkOK(t, res, 4, 1)[1]
	if e.Type != invocation.TypeTimeout || e.Exit != "signal: killed" || e.Attempts != 3 {
		t.Fatalf("error %+v: %v", e, e)
	}
	mustContain(t, "stderr", e.Stderr, "event 1: hanging")
	mustContain(t, "error", e.Error(), "passed its timeout (500ms)")
}

func TestInvalidAnswersAreBisected(t *testing.T) {
	f := start(t, goSettings(t, nil), invocation.Options{})
	res := f.fn.Call(bg, batch(6, map[int]string{2: "count", 4: "badjson"}))
	errs := checkOK(t, res, 6, 2, 4)
	if e := errs[2]; e.Type != invocation.TypeInvalidAnswer || !strings.Contains(e.Error(), "the answer has 0 results for 1 events") {
		t.Fatalf("wrong count: %v", e)
	}
	if e := errs[4]; e.Type != invocation.TypeInvalidAnswer || !strings.Contains(e.Error(), `the answer is not the JSON of {"results": [...]}`) ||
		!strings.Contains(e.Error(), `it begins "{\"results\": [oops"`) {
		t.Fatalf("bad JSON: %v", e)
	}
}

func TestGarbageOnStdoutIsOnlyLogged(t *testing.T) {
	f := start(t, goSettings(t, nil), invocation.Options{})
	checkOK(t, f.fn.Call(bg, batch(5, map[int]string{0: "garbage", 3: "garbage"})), 5)
	waitFor(t, "the log", func() bool { return strings.Count(f.logs.String(), "(line cut at 8 KiB)") == 2 })
	mustContain(t, "log", f.logs.String(), `"stream":"stdout"`, `garbage {\"results\": [] not json`)
}

func TestOutputFloodIsNotAllLogged(t *testing.T) {
	f := start(t, goSettings(t, nil), invocation.Options{})
	checkOK(t, f.fn.Call(bg, batch(1, map[int]string{0: "flood"})), 1)
	waitFor(t, "the line after the flood", func() bool { return strings.Contains(f.logs.String(), "after the flood") })
	logged := strings.Count(f.logs.String(), "flood line")
	if logged >= 10000 || logged < 100 || !strings.Contains(f.logs.String(), "lines not logged: more than 200 a second") {
		t.Fatalf("%d of 10000 lines logged", logged)
	}
}

func TestSlowStart(t *testing.T) {
	f := start(t, goSettings(t, map[string]any{"env": map[string]any{"FIXTURE_START_DELAY": "1500ms"}}), invocation.Options{})
	if s := state(f.pool); s.State != "starting" {
		t.Fatalf("state %+v", s)
	}
	checkOK(t, f.fn.Call(bg, batch(3, nil)), 3)
	mustContain(t, "log", f.logs.String(), "starting slowly")
}

func TestCannotStart(t *testing.T) {
	for name, tc := range map[string]struct {
		settings map[string]any
		want     []string
	}{
		"start_timeout": {map[string]any{"start_timeout": "300ms", "env": map[string]any{"FIXTURE_START_DELAY": "1h"}},
			[]string{"did not ask for an invocation within start_timeout (300ms)"}},
		"init_error": {map[string]any{"env": map[string]any{"FIXTURE_MODE": "init_error"}},
			[]string{"Runtime.ImportModuleError: cannot load the model"}},
		"exit": {map[string]any{"env": map[string]any{"FIXTURE_MODE": "exit_at_start"}},
			[]string{"the process ended before asking for an invocation (exit status 2)"}},
	} {
		t.Run(name, func(t *testing.T) {
			f := start(t, goSettings(t, tc.settings), invocation.Options{})
			res := f.fn.Call(bg, batch(3, nil))
			for i, r := range res {
				var ce *function.CallError
				if !errors.Is(r.Err, function.ErrUnavailable) || !errors.As(r.Err, &ce) || ce.Type != invocation.TypeUnavailable {
					t.Fatalf("event %d: %v", i, r.Err)
				}
				mustContain(t, "error", r.Err.Error(), append(tc.want, "function f cannot start")...)
			}
			if name == "init_error" {
				var ce *function.CallError
				errors.As(res[0].Err, &ce)
				mustContain(t, "stderr", ce.Stderr, "cannot load the model")
				// Killed after its /init/error, or exited by itself first.
				if len(ce.Stack) != 1 || ce.Exit != "exit status 1" && ce.Exit != "signal: killed" {
					t.Fatalf("stack %q, exit %q", ce.Stack, ce.Exit)
				}
			}
			if s := state(f.pool); s.State != "failing" || s.Instances[0].LastError == "" {
				t.Fatalf("state %+v", s)
			}
		})
	}
}

func TestFirehoseLambda(t *testing.T) {
	f := start(t, goSettings(t, map[string]any{"env": map[string]any{"FIXTURE_MODE": "firehose"}}), invocation.Options{Payload: invocation.PayloadFirehose})
	res := f.fn.Call(bg, []json.RawMessage{json.RawMessage(`{"title":"a"}`), json.RawMessage(`{"drop":true}`), json.RawMessage(`{"fail":true}`), json.RawMessage(`{"title":"b"}`)})
	if len(res[0].Outputs) != 1 || string(res[0].Outputs[0]) != `{"arrival":true,"title":"A"}` || string(res[3].Outputs[0]) != `{"arrival":true,"title":"B"}` {
		t.Fatalf("ok: %s %s", res[0].Outputs, res[3].Outputs)
	}
	if res[1].Err != nil || len(res[1].Outputs) != 0 {
		t.Fatalf("dropped: %+v", res[1])
	}
	var ce *function.CallError
	if !errors.As(res[2].Err, &ce) || ce.Type != "ProcessingFailed" {
		t.Fatalf("failed: %v", res[2].Err)
	}
}

func TestProtocol(t *testing.T) {
	self, _ := os.Executable()
	client := func(script string, timeout string) *fixture {
		return start(t, map[string]any{"command": []any{self}, "timeout": timeout, "env": map[string]any{"SLUICE_TEST_CLIENT": script}}, invocation.Options{})
	}
	t.Run("wrong id", func(t *testing.T) {
		f := client("wrong_id", "30s")
		checkOK(t, f.fn.Call(bg, batch(3, nil)), 3)
		waitFor(t, "the log", func() bool {
			return strings.Contains(f.logs.String(), `wrong id: 400 {\"errorMessage\":\"Invalid request ID\",\"errorType\":\"InvalidRequestID\"}`)
		})
	})
	t.Run("next twice", func(t *testing.T) {
		f := client("next_twice", "30s")
		e := checkOK(t, f.fn.Call(bg, batch(1, nil)), 1, 0)[0]
		if e.Type != "Runtime.InvalidState" || !strings.Contains(e.Error(), "asked for the next invocation before answering") {
			t.Fatalf("%v", e)
		}
	})
	t.Run("too large", func(t *testing.T) {
		f := client("too_large", "30s")
		e := checkOK(t, f.fn.Call(bg, batch(1, nil)), 1, 0)[0]
		if e.Type != invocation.TypeInvalidAnswer || !strings.Contains(e.Error(), "over 32 MiB") {
			t.Fatalf("%v", e)
		}
		waitFor(t, "the log", func() bool { return strings.Contains(f.logs.String(), `too large: 413`) })
	})
	t.Run("stream error", func(t *testing.T) {
		f := client("stream_error", "30s")
		e := checkOK(t, f.fn.Call(bg, batch(1, nil)), 1, 0)[0]
		if e.Type != "Runtime.StreamError" || !strings.Contains(e.Error(), "the stream broke") {
			t.Fatalf("%v", e)
		}
	})
	t.Run("error in plain text", func(t *testing.T) {
		f := client("error_text", "30s")
		e := checkOK(t, f.fn.Call(bg, batch(1, nil)), 1, 0)[0]
		if !strings.Contains(e.Error(), "something broke, in plain text") {
			t.Fatalf("%v", e)
		}
	})
}

func TestSettings(t *testing.T) {
	for settings, want := range map[string]string{
		`{}`:                                         "functions.f.process.command: required",
		`{"command":"python3 f.py"}`:                 "functions.f.process.command: want []string",
		`{"command":["./nope.py"]}`:                  `functions.f.process.command[0]: "`,
		`{"command":["no-such-program-x"]}`:          `functions.f.process.command[0]: "no-such-program-x" is not in PATH`,
		`{"command":["sh"],"instances":65}`:          "functions.f.process.instances: want 1 to 64, got 65",
		`{"command":["sh"],"timeout":"soon"}`:        `functions.f.process.timeout: "soon": want a duration`,
		`{"command":["sh"],"env":{"A":"${NOPE_X}"}}`: "functions.f.process.env.A: ${NOPE_X} is not set in sluice's environment",
		`{"command":["sh"],"dir":"nowhere"}`:         "functions.f.process.dir:",
		`{"command":["sh"],"bogus":1}`:               `functions.f.process.unknown field "bogus"`,
	} {
		var m map[string]any
		if err := json.Unmarshal([]byte(settings), &m); err != nil {
			t.Fatal(err)
		}
		_, _, err := process.Kind.New("f", m, invocation.Env{Path: "functions.f.process", Dir: t.TempDir(), Getenv: func(string) string { return "" }})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", settings, err, want)
		}
	}
}

func TestPython(t *testing.T) {
	py := python(t)
	f := start(t, map[string]any{"command": []any{py, "behave.py"}, "dir": processtest.Testdata(), "instances": 2}, invocation.Options{Config: map[string]any{"x": 1}})
	res := f.fn.Call(bg, batch(12, map[int]string{2: "fail", 7: "exit", 9: "print"}))
	errs := checkOK(t, res, 12, 2, 7)
	if e := errs[2]; e.Type != "KeyError" || !strings.Contains(e.Error(), "'missing'") || !strings.Contains(strings.Join(e.Stack, ""), "behave.py") ||
		!strings.Contains(e.Stderr, "event 2 is bad") {
		t.Fatalf("KeyError: %+v", e)
	}
	if e := errs[7]; e.Type != invocation.TypeExit || e.Exit != "exit status 3" || !strings.Contains(e.Stderr, "event 7: exiting with 3") {
		t.Fatalf("exit: %+v", e)
	}
	waitFor(t, "the print", func() bool { return strings.Contains(f.logs.String(), "a print on stdout, as Lambda functions do 9") })
	var o struct{ Config map[string]int }
	json.Unmarshal(res[0].Outputs[0], &o)
	if o.Config["x"] != 1 {
		t.Fatalf("config: %s", res[0].Outputs[0])
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 30 s", what)
		}
	}
}
