// Package sluicefn runs a Go function in sluice with the official AWS
// Lambda runtime client (github.com/aws/aws-lambda-go): sluice starts the
// program as a process function and serves the Lambda Runtime API to it on
// loopback, and the handler here speaks sluice's contract over it: an
// invocation {"function", "config", "events"} in, {"results": [...]} out,
// one result per event, in order (docs/FUNCTIONS.md).
//
// A per-event Handler gets one event and the function's config and returns
// its outputs (none: the event is filtered out) or an error, which is that
// event's error alone: sluice dead-letters it and the other events go on. A
// panic in a Handler is that event's error too, with the goroutine's stack.
// A BatchHandler sees every event of an invocation at once (to batch calls
// to an API) and returns one Result per event; an error it returns fails
// the whole invocation, and sluice splits the batch and retries the halves
// until the failing event is alone.
//
//	func main() {
//		sluicefn.Start(func(ctx context.Context, event, config json.RawMessage) ([]json.RawMessage, error) {
//			return []json.RawMessage{event}, nil
//		})
//	}
//
// The context carries the invocation's deadline (Lambda-Runtime-Deadline-Ms,
// from the function's timeout). Once it has passed, the events not yet run
// fail the invocation rather than being run. Logs go to stderr (the log
// package's default), which sluice puts in its own log.
//
// The package is public so that a user's module can import it; it depends
// on nothing of sluice's but aws-lambda-go. Wrap and WrapBatch return the
// plain handler function, for unit tests without any runtime.
package sluicefn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
)

// Invocation is the body sluice sends.
type Invocation struct {
	Function string            `json:"function"`
	Config   json.RawMessage   `json:"config"`
	Events   []json.RawMessage `json:"events"`
}

// Answer is the body sluice expects back.
type Answer struct {
	Results []Result `json:"results"`
}

// Result is what one event gave: outputs, or an error.
type Result struct {
	Outputs []json.RawMessage
	Error   *Error
}

// MarshalJSON writes {"outputs": [...]} or {"error": {...}}, never both.
func (r Result) MarshalJSON() ([]byte, error) {
	if r.Error != nil {
		return json.Marshal(struct {
			Error *Error `json:"error"`
		}{r.Error})
	}
	outs := r.Outputs
	if outs == nil {
		outs = []json.RawMessage{}
	}
	return json.Marshal(struct {
		Outputs []json.RawMessage `json:"outputs"`
	}{outs})
}

// UnmarshalJSON reads either form.
func (r *Result) UnmarshalJSON(b []byte) error {
	var v struct {
		Outputs []json.RawMessage `json:"outputs"`
		Error   *Error            `json:"error"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	r.Outputs, r.Error = v.Outputs, v.Error
	return nil
}

// Error is one event's error as sluice's dead letters show it.
type Error struct {
	Type    string   `json:"type"`
	Message string   `json:"message"`
	Stack   []string `json:"stack,omitempty"`
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Typed errors: an error with an ErrorType method names its own type in
// results; others are named by their Go type.
type typed interface{ ErrorType() string }

// Handler processes one event.
type Handler func(ctx context.Context, event, config json.RawMessage) ([]json.RawMessage, error)

// BatchHandler processes every event of an invocation and returns one
// Result per event, in order.
type BatchHandler func(ctx context.Context, events []json.RawMessage, config json.RawMessage) ([]Result, error)

// Start serves h over the Lambda Runtime API at $AWS_LAMBDA_RUNTIME_API;
// it does not return.
func Start(h Handler) { lambda.Start(Wrap(h)) }

// StartBatch serves h over the Lambda Runtime API; it does not return.
func StartBatch(h BatchHandler) { lambda.Start(WrapBatch(h)) }

// Invocation errors, reported to .../invocation/{id}/error with these types.
const (
	TypeInvalidInvocation = "Sluice.InvalidInvocation"
	TypeDeadlineExceeded  = "Sluice.DeadlineExceeded"
	TypeWrongResultCount  = "Sluice.WrongResultCount"
)

func invocationError(typ, format string, args ...any) error {
	return messages.InvokeResponse_Error{Type: typ, Message: fmt.Sprintf(format, args...)}
}

func check(inv Invocation) error {
	if inv.Events == nil {
		return invocationError(TypeInvalidInvocation, "/events: want an array of events")
	}
	if c := bytes.TrimSpace(inv.Config); len(c) > 0 && c[0] != '{' && string(c) != "null" {
		return invocationError(TypeInvalidInvocation, "/config: want an object")
	}
	return nil
}

func config(inv Invocation) json.RawMessage {
	if c := bytes.TrimSpace(inv.Config); len(c) > 0 && string(c) != "null" {
		return inv.Config
	}
	return json.RawMessage("{}")
}

// Wrap is h as an aws-lambda-go handler of sluice's invocations.
func Wrap(h Handler) func(context.Context, Invocation) (Answer, error) {
	return func(ctx context.Context, inv Invocation) (Answer, error) {
		if err := check(inv); err != nil {
			return Answer{}, err
		}
		cfg := config(inv)
		res := make([]Result, len(inv.Events))
		for i, ev := range inv.Events {
			if ctx.Err() != nil {
				return Answer{}, invocationError(TypeDeadlineExceeded,
					"the invocation's deadline passed after %d of %d events; the rest were not run", i, len(inv.Events))
			}
			res[i] = callOne(ctx, h, ev, cfg)
		}
		return Answer{Results: res}, nil
	}
}

// callOne runs h on one event; a panic is the event's error.
func callOne(ctx context.Context, h Handler, ev, cfg json.RawMessage) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = Result{Error: &Error{Type: "panic", Message: fmt.Sprint(p), Stack: strings.Split(strings.TrimSpace(string(debug.Stack())), "\n")}}
		}
	}()
	outs, err := h(ctx, ev, cfg)
	if err != nil {
		return Result{Error: Describe(err)}
	}
	return checked(outs)
}

// checked returns outs as a Result, or the error of an output that is not
// a JSON object (which would otherwise break the whole answer).
func checked(outs []json.RawMessage) Result {
	for i, o := range outs {
		t := bytes.TrimSpace(o)
		if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
			return Result{Error: &Error{Type: "InvalidOutput", Message: fmt.Sprintf("output %d is not a JSON object: %.80q", i, o)}}
		}
	}
	return Result{Outputs: outs}
}

// WrapBatch is h as an aws-lambda-go handler of sluice's invocations.
func WrapBatch(h BatchHandler) func(context.Context, Invocation) (Answer, error) {
	return func(ctx context.Context, inv Invocation) (Answer, error) {
		if err := check(inv); err != nil {
			return Answer{}, err
		}
		res, err := h(ctx, inv.Events, config(inv))
		if err != nil {
			return Answer{}, err
		}
		if len(res) != len(inv.Events) {
			return Answer{}, invocationError(TypeWrongResultCount, "batch handler returned %d results for %d events", len(res), len(inv.Events))
		}
		for i := range res {
			if res[i].Error == nil {
				res[i] = checked(res[i].Outputs)
			}
		}
		return Answer{Results: res}, nil
	}
}

// Describe is err as a result's error: its type is that of an error with an
// ErrorType method, or else the Go type of the first error in its chain that
// is not a plain errors.New or fmt.Errorf wrapper ("*fs.PathError"), or
// "error".
func Describe(err error) *Error {
	var e *Error
	if errors.As(err, &e) && e == err {
		return e
	}
	return &Error{Type: errorType(err), Message: err.Error()}
}

func errorType(err error) string {
	var t typed
	if errors.As(err, &t) {
		return t.ErrorType()
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch name := fmt.Sprintf("%T", e); name {
		case "*errors.errorString", "*fmt.wrapError", "*fmt.wrapErrors", "*errors.joinError":
		default:
			return name
		}
	}
	return "error"
}
