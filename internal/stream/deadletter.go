package stream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/schema"
)

// DeadLetterSuffix names the dead-letter stream of a stream: events a
// source could not store in "x" go to "x.dlq".
const DeadLetterSuffix = ".dlq"

// DeadLetter is an event that could not be stored, with why.
type DeadLetter struct {
	Meta   DeadLetterMeta `json:"meta"`
	Source string         `json:"source"` // who tried to store it
	Stream string         `json:"stream"` // where it was going
	Raw    string         `json:"raw"`    // the event exactly as received (cut at 64 KiB: see RawBytes)
	// RawBytes is the size of the raw event; it is more than len(Raw) when Raw was cut.
	RawBytes int                `json:"raw_bytes"`
	Errors   []schema.Violation `json:"errors"`          // why it was refused
	Extra    map[string]any     `json:"extra,omitempty"` // anything else the writer knows (e.g. the feed position)
}

// maxDeadRaw bounds the raw event kept in a dead letter, so the dead letter
// itself always fits in a message.
const maxDeadRaw = 64 << 10

// DeadLetterMeta identifies a dead letter: the id is a hash of source and
// raw event, so the same refusal twice is stored once.
type DeadLetterMeta struct {
	ID string    `json:"id"`
	DT time.Time `json:"dt"`
}

const deadLetterSchema = `{"type":"object","required":["meta","source","stream","raw","errors"],
"properties":{"meta":{"type":"object","required":["id","dt"],"properties":{"id":{"type":"string"},"dt":{"type":"string","format":"date-time"}}},
"source":{"type":"string"},"stream":{"type":"string"},"raw":{"type":"string"},
"errors":{"type":"array","items":{"type":"object","required":["pointer","keyword","message"]}},"extra":{"type":"object"}}}`

// EnsureDeadLetters creates the dead-letter stream of a stream if it is
// missing, with the same retention, and returns its name.
func (s *Service) EnsureDeadLetters(ctx context.Context, name string) (string, error) {
	def, err := s.Get(ctx, name)
	if err != nil {
		return "", err
	}
	dlq := name + DeadLetterSuffix
	if _, err := s.Get(ctx, dlq); err == nil {
		return dlq, nil
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return "", err
	}
	b, err := schema.FromDocument("sluice:dead-letters.json", []byte(deadLetterSchema))
	if err != nil {
		return "", err
	}
	_, err = s.Create(ctx, catalog.Stream{Name: dlq, ID: "/meta/id", Time: "/meta/dt", Key: []string{"/source"}, Retention: def.Retention}, b)
	if errors.Is(err, catalog.ErrExists) {
		err = nil // another node made it meanwhile
	}
	if err != nil {
		return "", fmt.Errorf("dead-letter stream of %q: %w", name, err)
	}
	return dlq, nil
}

// NewDeadLetter builds a dead letter for a raw event.
func NewDeadLetter(source, stream string, raw []byte, errs []schema.Violation) DeadLetter {
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write(raw)
	d := DeadLetter{
		Meta:   DeadLetterMeta{ID: hex.EncodeToString(h.Sum(nil)[:16]), DT: time.Now().UTC()},
		Source: source, Stream: stream, Raw: string(raw), RawBytes: len(raw), Errors: errs,
	}
	if len(raw) > maxDeadRaw {
		d.Raw = strings.ToValidUTF8(string(raw[:maxDeadRaw]), "")
	}
	return d
}

// Marshal writes a dead letter as an event.
func (d DeadLetter) Marshal() []byte {
	b, _ := json.Marshal(d)
	return b
}
