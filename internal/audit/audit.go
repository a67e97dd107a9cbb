// Package audit keeps the record of every admin and operate action (who,
// what, when, the change, the answer) as events of the stream
// sluice.audit, which sluice alone writes and admins read
// (docs/ACCESS.md).
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
)

// Stream is the audit stream's name.
const Stream = "sluice.audit"

// Reserved reports whether a stream is sluice's own (named sluice.*):
// nobody writes it, changes or deletes it through the API.
func Reserved(name string) bool { return strings.HasPrefix(name, "sluice.") }

// Retention keeps a year of actions, at most MaxBytes of them (the
// oldest go first), so that a flood of refused requests cannot fill the
// store; on a store too small to set that much aside (JetStream reserves
// a stream's max_bytes), the year only.
const (
	Retention = 365 * 24 * time.Hour
	MaxBytes  = 256 << 20
)

// Entry is one action.
type Entry struct {
	Meta struct {
		ID string    `json:"id"` // the entry's own
		DT time.Time `json:"dt"`
	} `json:"meta"`
	Action   string `json:"action"` // the API operation's id: deletePipeline, resetPipeline, createToken, ...
	Method   string `json:"method"`
	Path     string `json:"path"` // with the query
	Resource string `json:"resource,omitempty"`
	// Token is who did it: the token's id and name; empty with access
	// control off.
	Token *Who   `json:"token,omitempty"`
	By    string `json:"by"` // X-Sluice-User (the CLI sends user@host) and the client's address
	Node  string `json:"node,omitempty"`
	// ForwardedBy is the node that passed the request on, as it says.
	ForwardedBy string `json:"forwarded_by,omitempty"`
	Status      int    `json:"status"`
	Error       string `json:"error,omitempty"`  // the answer's detail when refused or failed
	Change      any    `json:"change,omitempty"` // the request's JSON body (definitions, grants, ...)
	ChangeLen   int    `json:"change_bytes,omitempty"`
}

// Who is a token, as the audit names it.
type Who struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// MaxChange bounds the body an entry keeps; a larger one is recorded by
// its size only.
const MaxChange = 64 << 10

const auditSchema = `{"type":"object","required":["meta","action","method","path","by","status"],
"properties":{"meta":{"type":"object","required":["id","dt"],"properties":{"id":{"type":"string"},"dt":{"type":"string","format":"date-time"}}},
"action":{"type":"string"},"method":{"type":"string"},"path":{"type":"string"},"resource":{"type":"string"},
"token":{"type":"object","properties":{"id":{"type":"string"},"name":{"type":"string"}}},
"by":{"type":"string"},"node":{"type":"string"},"status":{"type":"integer"},"error":{"type":"string"},"change_bytes":{"type":"integer"}}}`

// Ensure creates the audit stream if it is missing.
func Ensure(ctx context.Context, svc *stream.Service) error {
	if _, err := svc.Get(ctx, Stream); err == nil {
		return nil
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	b, err := schema.FromDocument("sluice:audit.json", []byte(auditSchema))
	if err != nil {
		return err
	}
	def := catalog.Stream{Name: Stream, ID: "/meta/id", Time: "/meta/dt", Retention: catalog.Retention{MaxAge: catalog.Duration(Retention), MaxBytes: MaxBytes}}
	_, err = svc.Create(ctx, def, b)
	if errors.Is(err, engine.ErrNoSpace) {
		def.Retention.MaxBytes = 0
		_, err = svc.Create(ctx, def, b)
	}
	if errors.Is(err, catalog.ErrExists) {
		err = nil // another node made it meanwhile
	}
	if err != nil {
		return fmt.Errorf("audit stream %s: %w", Stream, err)
	}
	return nil
}

// Record appends an entry; the stream drops a second one of the same id.
func Record(ctx context.Context, svc *stream.Service, e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	res, err := svc.Produce(ctx, Stream, [][]byte{b})
	if err != nil {
		return err
	}
	if len(res.Invalid) > 0 {
		return fmt.Errorf("audit entry refused: %v", res.Invalid[0])
	}
	return nil
}
