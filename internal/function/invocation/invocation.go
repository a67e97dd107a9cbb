// Package invocation is the contract between sluice and functions that
// run the operator's own code (docs/FUNCTIONS.md): the invocation sent for
// a batch of events, the answer with one result per event, and the
// Firehose form of both; and the Function that runs a batch through an
// Invoker (a process over the Lambda Runtime API, an HTTP endpoint), cuts
// it into invocations of max_batch events, and bisects a batch whose
// invocation failed until the event at fault is alone, so that only it
// fails and every other event gets its outputs from one invocation.
package invocation

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/sluice-dev/sluice/internal/function"
)

// MaxAnswerBytes bounds one answer (a /response body, an HTTP answer).
const MaxAnswerBytes = 32 << 20

// Payloads: the forms of the invocation and the answer.
const (
	PayloadSluice   = "sluice"   // {"function","config","events"} and {"results"}
	PayloadFirehose = "firehose" // Kinesis Data Firehose's transformation records
)

// Request is the invocation of payload sluice.
type Request struct {
	Function string            `json:"function"`
	Config   map[string]any    `json:"config"`
	Events   []json.RawMessage `json:"events"`
}

// Answer is the answer of payload sluice: one result per event, in order.
type Answer struct {
	Results []Result `json:"results"`
}

// Result is what one event gave: outputs, or an error.
type Result struct {
	Outputs []json.RawMessage `json:"outputs,omitempty"`
	Error   *Error            `json:"error,omitempty"`
}

// Error is an event's error as the function reported it.
type Error struct {
	Type    string   `json:"type,omitempty"`
	Message string   `json:"message"`
	Stack   []string `json:"stack,omitempty"`
}

func (e *Error) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

// Reply is an invocation's answer as an Invoker got it.
type Reply struct {
	Body []byte
	// Stderr is the end of the process's stderr when it answered (what it
	// wrote for this batch included), for the events' errors.
	Stderr string
}

// An Invoker runs the invocations of one function. Invoke returns the
// answer's body, or the invocation's *Failure; it is safe for concurrent
// use and runs at most Concurrency invocations at once.
type Invoker interface {
	Invoke(ctx context.Context, body []byte) (Reply, error)
	Concurrency() int
	// State is what GET /v1/functions shows: instances, counts, last error.
	State() any
	Close() error
}

// Env is what a kind needs from where the function is declared.
type Env struct {
	// Path names the settings in errors: "functions.NAME.process".
	Path string
	// Dir is the folder of the config file: relative paths start there.
	Dir string
	// Getenv gives ${VAR} in settings that allow it; nil: os.Getenv.
	Getenv func(string) string
	Log    *slog.Logger
}

// Kind is a kind of function that runs the operator's code: its settings
// (documented by Fields) build an Invoker.
type Kind struct {
	Name   string
	Doc    string
	Fields []function.Field
	// New checks the settings (errors start with env.Path and name the
	// setting) and builds the invoker, and returns the settings to show,
	// without secrets.
	New func(name string, settings map[string]any, env Env) (Invoker, any, error)
}

var (
	//go:embed schema/invocation.json
	InvocationSchema []byte
	//go:embed schema/answer.json
	AnswerSchema []byte
	//go:embed schema/firehose-invocation.json
	FirehoseInvocationSchema []byte
	//go:embed schema/firehose-answer.json
	FirehoseAnswerSchema []byte
)

// encodeRequest writes the invocation of payload sluice; config is already JSON.
func encodeRequest(name, config []byte, events []json.RawMessage) []byte {
	n := len(name) + len(config) + 40
	for _, e := range events {
		n += len(e) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"function":`...)
	b = append(b, name...)
	b = append(b, `,"config":`...)
	b = append(b, config...)
	b = append(b, `,"events":[`...)
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, "]}"...)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("invocation: %v", err))
	}
	return b
}
