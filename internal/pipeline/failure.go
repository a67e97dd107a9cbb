package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

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
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
	ID     string `json:"id"`
	// Event is the input as stored: null when it is not JSON in UTF-8
	// (then EventBase64 holds it) or was too large to keep (Truncated).
	Event json.RawMessage `json:"event"`
	// EventBase64 is input that is not JSON text, in base64 (standard
	// alphabet, padded), cut at maxFailureRaw bytes.
	EventBase64 string `json:"event_base64,omitempty"`
	// Bytes is the input's size, set when Event does not hold all of it.
	Bytes int `json:"event_bytes,omitempty"`
	// Truncated says the dead letter keeps only part of the input, or none
	// of it, to fit in a message; a redrive reads it from the input stream.
	Truncated bool `json:"event_truncated,omitempty"`
	// Foreign says the input is not an event sluice stored: it was
	// published straight into the stream's NATS subject, unchecked. A
	// redrive fails it again.
	Foreign bool `json:"foreign,omitempty"`
}

// maxFailureRaw bounds the input bytes a dead letter keeps in base64.
const maxFailureRaw = 64 << 10

func newFailure(spec *Spec, seq uint64, id string, ev []byte, err error) Failure {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s", spec.Name, seq, id))
	f := Failure{
		Meta:     FailureMeta{ID: hex.EncodeToString(h[:16]), DT: time.Now().UTC()},
		Pipeline: spec.Name, Function: spec.FunctionName,
		Input: FailureInput{Stream: spec.From, Seq: seq, ID: id, Event: ev},
		Error: err.Error(),
	}
	if !utf8.Valid(ev) || !json.Valid(ev) {
		// A raw RawMessage would make the dead letter itself invalid JSON.
		raw := ev[:min(len(ev), maxFailureRaw)]
		f.Input.Event, f.Input.EventBase64 = json.RawMessage("null"), base64.StdEncoding.EncodeToString(raw)
		f.Input.Bytes, f.Input.Truncated = len(ev), len(raw) < len(ev)
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		f.Chain = append(f.Chain, e.Error())
	}
	var ce *function.CallError
	if errors.As(err, &ce) {
		f.Attempts, f.Status, f.Body = ce.Attempts, ce.Status, ce.Body
		f.ErrorType, f.Stack, f.Stderr, f.Exit = ce.Type, ce.Stack, ce.Stderr, ce.Exit
	}
	var re *RefusedError
	if errors.As(err, &re) {
		f.Output, f.Invalid = re.Output, re.Violations
	}
	return f
}

// marshal writes f as an event of at most limit bytes (0: no limit): a
// dead letter too large for its stream would be refused, and the pipeline
// would stop on it. It gives up the input first (the input stream still
// has it, at Input.Seq), then cuts the error texts.
func (f Failure) marshal(limit int) []byte {
	b, _ := json.Marshal(f) // cannot fail: Event is valid JSON or null
	if limit <= 0 || len(b) <= limit {
		return b
	}
	if f.Input.Bytes == 0 {
		f.Input.Bytes = len(f.Input.Event)
	}
	f.Input.Event, f.Input.EventBase64, f.Input.Truncated = json.RawMessage("null"), "", true
	orig := f
	// Texts are cut by their bytes, but JSON writes a control character or
	// an invalid UTF-8 byte as six: cut shorter until the whole fits.
	for n := 4 << 10; ; n /= 2 {
		f.Error = cut(orig.Error, n)
		f.Chain = slices.Clone(orig.Chain[:min(len(orig.Chain), 8)]) // not the caller's arrays
		f.Invalid = slices.Clone(orig.Invalid[:min(len(orig.Invalid), 8)])
		for i := range f.Chain {
			f.Chain[i] = cut(f.Chain[i], n/4)
		}
		for i := range f.Invalid {
			f.Invalid[i].Message = cut(f.Invalid[i].Message, n/4)
			f.Invalid[i].Pointer = cut(f.Invalid[i].Pointer, n/4)
		}
		b, _ = json.Marshal(f)
		if len(b) <= limit || n < 64 {
			return b
		}
	}
}

// cut shortens s to at most n bytes, on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

const failureSchema = `{"type":"object","required":["meta","pipeline","function","input","error"],
"properties":{"meta":{"type":"object","required":["id","dt"]},"pipeline":{"type":"string"},"function":{"type":"string"},
"input":{"type":"object","required":["stream","seq","event"],"properties":{"stream":{"type":"string"},"seq":{"type":"integer"},
 "event_base64":{"type":"string","contentEncoding":"base64"},"event_bytes":{"type":"integer"},"event_truncated":{"type":"boolean"},"foreign":{"type":"boolean"}}},"error":{"type":"string"},"chain":{"type":"array","items":{"type":"string"}}}}`

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
