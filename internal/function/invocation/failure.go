package invocation

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-dev/sluice/internal/function"
)

// Class says what a failed invocation means for its events.
type Class int

const (
	// Bisect: the batch failed as a whole, maybe because of one event
	// (a crash, a timeout, an invocation error, an invalid answer): split
	// it until the event at fault is alone.
	Bisect Class = iota
	// Batch: every event of the invocation fails with this error, as it
	// is (an HTTP 401, 404: splitting would not help).
	Batch
	// Unavailable: the function cannot run now (no process starts, the
	// endpoint does not answer): not the events' fault.
	Unavailable
)

// Error types sluice gives failures of its own finding; the others are
// the function's (its errorType).
const (
	TypeExit          = "Runtime.ExitError" // the process exited during the invocation
	TypeTimeout       = "Sandbox.Timedout"  // the invocation passed its timeout
	TypeInvalidAnswer = "Sluice.InvalidAnswer"
	TypeHTTP          = "Sluice.HTTPError"
	TypeHTTPTimeout   = "Sluice.Timeout"
	TypeUnavailable   = "Sluice.Unavailable"
)

// Failure is a failed invocation, with everything a dead letter shows.
type Failure struct {
	Class   Class
	Type    string
	Message string
	Stack   []string
	Stderr  string // the end of the process's stderr
	Exit    string // how the process ended
	Status  int    // HTTP status
	Body    string // the first 2 KiB of the HTTP answer
	// Tries is how many times the invoker tried this one invocation
	// (HTTP retries of an unavailable endpoint).
	Tries int
}

func (f *Failure) Error() string {
	if f.Type == "" {
		return f.Message
	}
	return f.Type + ": " + f.Message
}

// Unwrap makes an unavailable function's failure function.ErrUnavailable.
func (f *Failure) Unwrap() error {
	if f.Class == Unavailable {
		return function.ErrUnavailable
	}
	return nil
}

// asFailure makes any error of an invoker a Failure.
func asFailure(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Failure{Class: Bisect, Type: TypeHTTPTimeout, Message: err.Error()}
	}
	return &Failure{Class: Bisect, Type: "Sluice.Error", Message: err.Error()}
}

// callError is the failure as one event's error: attempts counts the
// invocations that held the event.
func (f *Failure) callError(attempts int) *function.CallError {
	e := &Error{Type: f.Type, Message: f.Message, Stack: append([]string(nil), f.Stack...)}
	bound(e)
	var err error = f
	if e.Message != f.Message || len(e.Stack) != len(f.Stack) {
		err = &Failure{Class: f.Class, Type: e.Type, Message: e.Message}
	}
	return &function.CallError{Err: err, Attempts: max(attempts, f.Tries), Status: f.Status, Body: f.Body,
		Type: e.Type, Stack: e.Stack, Stderr: f.Stderr, Exit: f.Exit}
}

// eventError is an event's own error from an answer.
func eventError(e *Error, attempts int, stderr string) *function.CallError {
	return &function.CallError{Err: e, Attempts: attempts, Type: e.Type, Stack: e.Stack, Stderr: stderr}
}

// invalidAnswer is an answer that breaks the contract.
func invalidAnswer(err error, stderr string) *Failure {
	return &Failure{Class: Bisect, Type: TypeInvalidAnswer, Message: err.Error(), Stderr: stderr}
}

// Unavailablef is a failure that is not the events' fault.
func Unavailablef(format string, args ...any) *Failure {
	return &Failure{Class: Unavailable, Type: TypeUnavailable, Message: fmt.Sprintf(format, args...)}
}
