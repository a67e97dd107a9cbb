package sluicefn_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/testenv"
	"github.com/sluice-dev/sluice/sdk/go/sluicefn"
)

func raws(docs ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(docs))
	for i, d := range docs {
		out[i] = json.RawMessage(d)
	}
	return out
}

func answerJSON(t *testing.T, a sluicefn.Answer) string {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type notFound struct{ page int }

func (e notFound) Error() string     { return "no such page" }
func (e notFound) ErrorType() string { return "NotFound" }

func TestWrap(t *testing.T) {
	h := sluicefn.Wrap(func(ctx context.Context, event, config json.RawMessage) ([]json.RawMessage, error) {
		switch string(event) {
		case `{"k":"none"}`:
			return nil, nil
		case `{"k":"fail"}`:
			return nil, &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}
		case `{"k":"wrapped"}`:
			return nil, errors.New("plain")
		case `{"k":"typed"}`:
			return nil, notFound{42}
		case `{"k":"panic"}`:
			panic("boom")
		case `{"k":"bad"}`:
			return raws(`[1]`), nil
		}
		return raws(string(event), string(config)), nil
	})
	a, err := h(context.Background(), sluicefn.Invocation{Events: raws(`{"n":1}`, `{"k":"none"}`, `{"k":"fail"}`,
		`{"k":"wrapped"}`, `{"k":"typed"}`, `{"k":"bad"}`)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"results":[{"outputs":[{"n":1},{}]},{"outputs":[]},` +
		`{"error":{"type":"*fs.PathError","message":"open /x: file does not exist"}},` +
		`{"error":{"type":"error","message":"plain"}},` +
		`{"error":{"type":"NotFound","message":"no such page"}},` +
		`{"error":{"type":"InvalidOutput","message":"output 0 is not a JSON object: \"[1]\""}}]}`
	if got := answerJSON(t, a); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	a, err = h(context.Background(), sluicefn.Invocation{Events: raws(`{"k":"panic"}`, `{"n":2}`), Config: json.RawMessage(`{"c":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if e := a.Results[0].Error; e == nil || e.Type != "panic" || e.Message != "boom" || !strings.Contains(strings.Join(e.Stack, "\n"), "sluicefn_test.go") {
		t.Errorf("a panic: got %+v", a.Results[0])
	}
	if got := string(a.Results[1].Outputs[1]); got != `{"c":1}` {
		t.Errorf("config: got %s", got)
	}
}

func TestWrapInvocationErrors(t *testing.T) {
	h := sluicefn.Wrap(func(ctx context.Context, event, config json.RawMessage) ([]json.RawMessage, error) {
		return raws(`{}`), nil
	})
	for name, inv := range map[string]sluicefn.Invocation{
		"no events":       {},
		"config a list":   {Events: raws(`{}`), Config: json.RawMessage(`[1]`)},
		"config a string": {Events: raws(`{}`), Config: json.RawMessage(`"x"`)},
	} {
		if _, err := h(context.Background(), inv); err == nil || !strings.Contains(err.Error(), sluicefn.TypeInvalidInvocation) {
			t.Errorf("%s: got %v, want %s", name, err, sluicefn.TypeInvalidInvocation)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h(ctx, sluicefn.Invocation{Events: raws(`{}`)}); err == nil || !strings.Contains(err.Error(), "after 0 of 1 events") {
		t.Errorf("past the deadline: got %v", err)
	}
}

func TestWrapBatch(t *testing.T) {
	h := sluicefn.WrapBatch(func(ctx context.Context, events []json.RawMessage, config json.RawMessage) ([]sluicefn.Result, error) {
		if len(events) == 3 {
			return make([]sluicefn.Result, 1), nil
		}
		return []sluicefn.Result{{Outputs: raws(`{"a":1}`)}, {Error: &sluicefn.Error{Type: "T", Message: "m"}}}, nil
	})
	a, err := h(context.Background(), sluicefn.Invocation{Events: raws(`{}`, `{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := answerJSON(t, a), `{"results":[{"outputs":[{"a":1}]},{"error":{"type":"T","message":"m"}}]}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if _, err := h(context.Background(), sluicefn.Invocation{Events: raws(`{}`, `{}`, `{}`)}); err == nil ||
		!strings.Contains(err.Error(), "batch handler returned 1 results for 3 events") {
		t.Errorf("wrong count: got %v", err)
	}
}

func TestTyped(t *testing.T) {
	type ev struct {
		N int `json:"n"`
	}
	type cfg struct {
		Add int `json:"add"`
	}
	h := sluicefn.Wrap(sluicefn.Typed(func(ctx context.Context, e ev, c cfg) ([]ev, error) {
		return []ev{{N: e.N + c.Add}}, nil
	}))
	a, err := h(context.Background(), sluicefn.Invocation{Events: raws(`{"n":1}`, `{"n":"x"}`), Config: json.RawMessage(`{"add":10}`)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"results":[{"outputs":[{"n":11}]},{"error":{"type":"InvalidEvent","message":"event: /n: want int, got string"}}]}`
	if got := answerJSON(t, a); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func needGo(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		testenv.Skip(t, "the go command is not on PATH: the test builds a handler binary")
	}
}

// TestProcess runs a handler built with aws-lambda-go under a Runtime API.
func TestProcess(t *testing.T) {
	needGo(t)
	api := newRuntimeAPI(t)
	_, stderr := startHandler(t, api)

	o := api.invoke(`{"function":"f","config":{"tag":"blue"},"events":[{"n":1},{"n":2,"kind":"two"},{"n":3,"kind":"none"},{"n":4,"kind":"fail"},{"n":5,"kind":"panic"},{"n":6,"kind":"log"},{"n":"x"}]}`, time.Minute)
	if o.kind != "response" {
		t.Fatalf("got %s %s", o.kind, o.body)
	}
	a := decode[sluicefn.Answer](t, o.body)
	if len(a.Results) != 7 {
		t.Fatalf("got %d results: %s", len(a.Results), o.body)
	}
	for i, want := range []string{`[{"n":1,"tag":"blue","deadline":true}]`, `[{"n":2},{"n":3}]`, `[]`} {
		if got, _ := json.Marshal(a.Results[i].Outputs); string(got) != want && !(want == "[]" && string(got) == "null") {
			t.Errorf("result %d: got %s, want %s", i, got, want)
		}
	}
	if e := a.Results[3].Error; e == nil || e.Type != "error" || e.Message != "event 4: file does not exist" {
		t.Errorf("result 3: got %+v", a.Results[3])
	}
	if e := a.Results[4].Error; e == nil || e.Type != "panic" || !strings.Contains(e.Message, "nil map") || !strings.Contains(strings.Join(e.Stack, "\n"), "main.handle") {
		t.Errorf("result 4: got %+v", a.Results[4])
	}
	if e := a.Results[6].Error; e == nil || e.Type != "InvalidEvent" {
		t.Errorf("result 6: got %+v", a.Results[6])
	}

	// the deadline: the second event is not run once it has passed
	o = api.invoke(`{"function":"f","events":[{"n":1,"kind":"sleep","sleep":"300ms"},{"n":2}]}`, 100*time.Millisecond)
	// aws-lambda-go sends the type in the body only (the header is a trailer, set on read errors)
	if o.kind != "error" || decode[map[string]any](t, o.body)["errorType"] != sluicefn.TypeDeadlineExceeded {
		t.Errorf("past the deadline: got %s %q %s", o.kind, o.errType, o.body)
	}
	// not an invocation
	o = api.invoke(`{"function":"f","events":{}}`, time.Minute)
	if o.kind != "error" {
		t.Errorf("bad body: got %s %s", o.kind, o.body)
	}
	o = api.invoke(`{"function":"f","events":[{"n":9}]}`, time.Minute)
	if o.kind != "response" {
		t.Errorf("after errors: got %s %s", o.kind, o.body)
	}
	if !strings.Contains(stderr.String(), "a log line for event 6") {
		t.Errorf("stderr has no log line:\n%s", stderr)
	}
}

func TestProcessBatch(t *testing.T) {
	needGo(t)
	api := newRuntimeAPI(t)
	cmd, _ := startHandler(t, api, "SLUICEFN_TEST_MODE=batch")

	o := api.invoke(`{"function":"f","events":[{"n":1},{"n":2,"kind":"fail"}]}`, time.Minute)
	want := `{"results":[{"outputs":[{"batch":2,"n":1}]},{"error":{"type":"Bad","message":"event 2 is bad"}}]}`
	if o.kind != "response" || string(o.body) != want {
		t.Errorf("got %s %s, want %s", o.kind, o.body, want)
	}
	o = api.invoke(`{"function":"f","events":[{"n":1},{"kind":"fail-batch"}]}`, time.Minute)
	if e := decode[map[string]any](t, o.body); o.kind != "error" || e["errorMessage"] != "the API is down" {
		t.Errorf("failed batch: got %s %s", o.kind, o.body)
	}
	o = api.invoke(`{"function":"f","events":[{"n":1},{"kind":"short"}]}`, time.Minute)
	if o.kind != "error" || decode[map[string]any](t, o.body)["errorType"] != sluicefn.TypeWrongResultCount {
		t.Errorf("short batch: got %s %q %s", o.kind, o.errType, o.body)
	}
	// a crash is the runtime's to see: the process exits
	api.pending <- invocation{id: "crash", body: []byte(`{"events":[{"kind":"crash"}]}`), deadline: time.Now().Add(time.Minute)}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("crash: got %v, want exit status 3", err)
	}
}

func TestNoRuntimeAPI(t *testing.T) {
	needGo(t)
	bin, err := buildHandler()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API=")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a handler without a Runtime API ran: %s", out)
	}
}
