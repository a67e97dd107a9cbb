package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
)

// Failure is a dead letter of a pipeline: an input it could not handle.
type Failure struct {
	Meta     FailureMeta        `json:"meta"`
	Pipeline string             `json:"pipeline"`
	Function string             `json:"function"`
	Input    FailureInput       `json:"input"`
	Error    string             `json:"error"`
	Chain    []string           `json:"chain"` // the error and every error it wraps
	Attempts int                `json:"attempts,omitempty"`
	Status   int                `json:"http_status,omitempty"`
	Body     string             `json:"http_body,omitempty"` // the first 2 KiB
	Output   string             `json:"output,omitempty"`    // set when an output refused the result
	Invalid  []schema.Violation `json:"invalid,omitempty"`

	// For process and http functions (docs/FUNCTIONS.md), as the code reported them.
	ErrorType string   `json:"error_type,omitempty"`
	Stack     []string `json:"stack,omitempty"`
	Stderr    string   `json:"stderr,omitempty"` // the last 8 KiB of the process's stderr
	Exit      string   `json:"exit,omitempty"`   // how the process ended: "exit status 2", "signal: killed"
}

// FailureMeta identifies a failure; the id depends on the pipeline and the
// input's sequence, so a failure recorded twice is stored once.
type FailureMeta struct {
	ID string    `json:"id"`
	DT time.Time `json:"dt"`
}

// FailureInput is the input event that failed.
type FailureInput struct {
	Stream string          `json:"stream"`
	Seq    uint64          `json:"seq"`
	ID     string          `json:"id"`
	Event  json.RawMessage `json:"event"`
}

func newFailure(spec *Spec, seq uint64, id string, ev json.RawMessage, err error) Failure {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s", spec.Name, seq, id))
	f := Failure{
		Meta:     FailureMeta{ID: hex.EncodeToString(h[:16]), DT: time.Now().UTC()},
		Pipeline: spec.Name, Function: spec.FunctionName,
		Input: FailureInput{Stream: spec.From, Seq: seq, ID: id, Event: ev},
		Error: err.Error(),
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		f.Chain = append(f.Chain, e.Error())
	}
	var ce *function.CallError
	if errors.As(err, &ce) {
		f.Attempts, f.Status, f.Body = ce.Attempts, ce.Status, ce.Body
		f.ErrorType, f.Stack, f.Stderr, f.Exit = ce.Type, ce.Stack, ce.Stderr, ce.Exit
	}
	return f
}

const failureSchema = `{"type":"object","required":["meta","pipeline","function","input","error"],
"properties":{"meta":{"type":"object","required":["id","dt"]},"pipeline":{"type":"string"},"function":{"type":"string"},
"input":{"type":"object","required":["stream","seq","event"]},"error":{"type":"string"},"chain":{"type":"array","items":{"type":"string"}}}}`

// ensureErrors creates "<pipeline>.errors" if it is missing.
func ensureErrors(ctx context.Context, svc *stream.Service, pipeline string) (string, error) {
	name := pipeline + ErrorsSuffix
	if _, err := svc.Get(ctx, name); err == nil {
		return name, nil
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return "", err
	}
	b, err := schema.FromDocument("sluice:pipeline-errors.json", []byte(failureSchema))
	if err != nil {
		return "", err
	}
	if _, err := svc.Create(ctx, catalog.Stream{Name: name, ID: "/meta/id", Time: "/meta/dt", Key: []string{"/input/id"}}, b); err != nil && !errors.Is(err, catalog.ErrExists) {
		return "", fmt.Errorf("dead letters of pipeline %q: %w", pipeline, err)
	}
	return name, nil
}
