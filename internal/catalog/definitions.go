package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
)

// Kind names a kind of definition, as in sluice.yaml and the API paths.
type Kind string

// The kinds of definitions.
const (
	Streams   Kind = "streams"
	Tables    Kind = "tables"
	Functions Kind = "functions"
	Sources   Kind = "sources"
	Pipelines Kind = "pipelines"
)

// Kinds lists every kind in the order they depend on each other: sources
// write to streams, pipelines read streams and use tables and functions.
// Creations go in this order, deletions in the reverse.
var Kinds = []Kind{Streams, Tables, Functions, Sources, Pipelines}

// ParseKind reads a kind by its name, plural or singular.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if s == string(k) || s+"s" == string(k) {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown kind %q: want one of streams, tables, functions, sources, pipelines", s)
}

// Singular is the kind's name for one definition ("pipeline").
func (k Kind) Singular() string { return strings.TrimSuffix(string(k), "s") }

// Errors of definitions, matched with errors.Is.
var (
	ErrNoDefinition     = errors.New("no such definition")
	ErrDefinitionExists = errors.New("definition exists")
	ErrStale            = errors.New("definition changed meanwhile")
)

// Definition is a component's spec as the catalog keeps it: the same
// fields as its entry in sluice.yaml, as canonical JSON (sorted keys).
type Definition struct {
	Kind    Kind            `json:"kind"`
	Name    string          `json:"name"`
	Spec    json.RawMessage `json:"spec"`
	Version int             `json:"version"`
	Created time.Time       `json:"created"`
	Updated time.Time       `json:"updated"`
	By      string          `json:"by,omitempty"`
	// Reset is where a pipeline starts with this version (its input stream
	// changed); the nodes running the previous version move it there.
	Reset string `json:"reset,omitempty"`
}

// Write says how Put writes a definition.
type Write struct {
	By string // who: shown in the history
	// Create refuses a definition that exists (ErrDefinitionExists).
	Create bool
	// IfRevision refuses a definition changed since (ErrStale); 0: any.
	IfRevision uint64
	// Reset goes with the new version (Definition.Reset).
	Reset string
}

// Change is one entry of a definition's history.
type Change struct {
	Version int       `json:"version"`
	Op      string    `json:"op"` // create, update or delete
	At      time.Time `json:"at"`
	By      string    `json:"by,omitempty"`
	// Fields are the paths of the fields that changed ("where",
	// "function.config.user_agent", "to[1].table"); none for a create.
	Fields []string `json:"fields,omitempty"`
	// Spec is the definition after the change (before it, for a delete).
	Spec json.RawMessage `json:"spec,omitempty"`
}

// Change operations.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"
)

// historyKept bounds the versions kept per definition.
const historyKept = 100

// Definitions keeps the definitions of sources, pipelines, tables and
// functions (streams keep theirs in the stream catalog, Catalog) and the
// history of every kind's changes, in two engine KV buckets:
// "definitions" holds "<kind>.<name>", "definition_history"
// "<kind>.<name>.<version>". Every node sharing the engine sees the same
// ones and can watch them change.
type Definitions struct {
	kv, hist engine.KV
}

// OpenDefinitions opens the buckets.
func OpenDefinitions(ctx context.Context, e engine.Engine) (*Definitions, error) {
	kv, err := e.KV(ctx, "definitions")
	if err != nil {
		return nil, fmt.Errorf("open definitions: %w", err)
	}
	hist, err := e.KV(ctx, "definition_history")
	if err != nil {
		return nil, fmt.Errorf("open definition history: %w", err)
	}
	return &Definitions{kv: kv, hist: hist}, nil
}

func defKey(k Kind, name string) string { return string(k) + "." + name }
func historyKey(k Kind, name string, v int) string {
	return fmt.Sprintf("%s.%s.%06d", k, name, v)
}

// Get returns a definition and its revision (for Put's ifRevision).
func (d *Definitions) Get(ctx context.Context, k Kind, name string) (Definition, uint64, error) {
	raw, rev, err := d.kv.Get(ctx, defKey(k, name))
	if errors.Is(err, engine.ErrNotFound) {
		return Definition{}, 0, fmt.Errorf("%w: %s %q", ErrNoDefinition, k.Singular(), name)
	}
	if err != nil {
		return Definition{}, 0, err
	}
	var def Definition
	if err := json.Unmarshal(raw, &def); err != nil {
		return Definition{}, 0, fmt.Errorf("catalog definition %s %q: %w", k.Singular(), name, err)
	}
	return def, rev, nil
}

// List returns every definition of a kind, by name.
func (d *Definitions) List(ctx context.Context, k Kind) ([]Definition, error) {
	keys, err := d.kv.Keys(ctx, string(k)+".")
	if err != nil {
		return nil, err
	}
	out := make([]Definition, 0, len(keys))
	for _, key := range keys {
		def, _, err := d.Get(ctx, k, strings.TrimPrefix(key, string(k)+"."))
		if errors.Is(err, ErrNoDefinition) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, def)
	}
	return out, nil
}

// Put stores a definition: a new one, or a new version of the one there
// (see Write). A spec equal to the current one changes nothing: the
// Change answered is then the zero Change.
func (d *Definitions) Put(ctx context.Context, k Kind, name string, spec json.RawMessage, w Write) (Definition, Change, error) {
	by, create, ifRevision := w.By, w.Create, w.IfRevision
	canon, err := Canonical(spec)
	if err != nil {
		return Definition{}, Change{}, fmt.Errorf("spec: %w", err)
	}
	cur, rev, err := d.Get(ctx, k, name)
	switch {
	case errors.Is(err, ErrNoDefinition):
		if ifRevision != 0 {
			return Definition{}, Change{}, fmt.Errorf("%w: %s %q was deleted", ErrStale, k.Singular(), name)
		}
		now := time.Now().UTC()
		def := Definition{Kind: k, Name: name, Spec: canon, Version: d.nextVersion(ctx, k, name), Created: now, Updated: now, By: by, Reset: w.Reset}
		raw, _ := json.Marshal(def)
		if _, err := d.kv.Create(ctx, defKey(k, name), raw); errors.Is(err, engine.ErrExists) {
			return Definition{}, Change{}, fmt.Errorf("%w: %s %q was created meanwhile", ErrStale, k.Singular(), name)
		} else if err != nil {
			return Definition{}, Change{}, err
		}
		ch := Change{Version: def.Version, Op: OpCreate, At: now, By: by, Spec: canon}
		return def, ch, d.record(ctx, k, name, ch)
	case err != nil:
		return Definition{}, Change{}, err
	case create:
		return Definition{}, Change{}, fmt.Errorf("%w: %s %q", ErrDefinitionExists, k.Singular(), name)
	case ifRevision != 0 && ifRevision != rev:
		return Definition{}, Change{}, fmt.Errorf("%w: %s %q", ErrStale, k.Singular(), name)
	}
	if bytes.Equal(cur.Spec, canon) {
		return cur, Change{}, nil
	}
	fields := DiffFields(cur.Spec, canon)
	now := time.Now().UTC()
	def := cur
	def.Spec, def.Version, def.Updated, def.By, def.Reset = canon, cur.Version+1, now, by, w.Reset
	raw, _ := json.Marshal(def)
	if _, err := d.kv.Update(ctx, defKey(k, name), raw, rev); errors.Is(err, engine.ErrConflict) {
		return Definition{}, Change{}, fmt.Errorf("%w: %s %q", ErrStale, k.Singular(), name)
	} else if err != nil {
		return Definition{}, Change{}, err
	}
	ch := Change{Version: def.Version, Op: OpUpdate, At: now, By: by, Fields: fields, Spec: canon}
	return def, ch, d.record(ctx, k, name, ch)
}

// Delete removes a definition; its history stays (a later definition of
// the same name goes on with the next version).
func (d *Definitions) Delete(ctx context.Context, k Kind, name, by string) error {
	cur, _, err := d.Get(ctx, k, name)
	if err != nil {
		return err
	}
	if err := d.kv.Delete(ctx, defKey(k, name)); err != nil {
		return err
	}
	return d.record(ctx, k, name, Change{Version: cur.Version + 1, Op: OpDelete, At: time.Now().UTC(), By: by, Spec: cur.Spec})
}

// Record adds a change to a definition's history; for the kinds whose
// current definition lives elsewhere (streams).
func (d *Definitions) Record(ctx context.Context, k Kind, name string, ch Change) error {
	if ch.Version == 0 {
		ch.Version = d.nextVersion(ctx, k, name)
	}
	return d.record(ctx, k, name, ch)
}

func (d *Definitions) record(ctx context.Context, k Kind, name string, ch Change) error {
	raw, _ := json.Marshal(ch)
	key := historyKey(k, name, ch.Version)
	if _, err := d.hist.Create(ctx, key, raw); errors.Is(err, engine.ErrExists) {
		// left by a write that failed after its history: this one is newer
		if err := d.hist.Delete(ctx, key); err != nil {
			return err
		}
		if _, err := d.hist.Create(ctx, key, raw); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("record the change in the history: %w", err)
	}
	if old := ch.Version - historyKept; old > 0 {
		_ = d.hist.Delete(ctx, historyKey(k, name, old))
	}
	return nil
}

// nextVersion is one after the newest version in the history (1 for a
// name never defined), so versions go on across a delete.
func (d *Definitions) nextVersion(ctx context.Context, k Kind, name string) int {
	h, err := d.History(ctx, k, name)
	if err != nil || len(h) == 0 {
		return 1
	}
	return h[len(h)-1].Version + 1
}

// History returns a definition's changes, oldest first (at most the last
// 100).
func (d *Definitions) History(ctx context.Context, k Kind, name string) ([]Change, error) {
	prefix := string(k) + "." + name + "."
	keys, err := d.hist.Keys(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []Change
	for _, key := range keys {
		if rest := strings.TrimPrefix(key, prefix); len(rest) != 6 || strings.Trim(rest, "0123456789") != "" {
			continue // a name that extends this one ("a" and "a.b")
		}
		raw, _, err := d.hist.Get(ctx, key)
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var ch Change
		if err := json.Unmarshal(raw, &ch); err != nil {
			return nil, fmt.Errorf("history %s: %w", key, err)
		}
		out = append(out, ch)
	}
	return out, nil
}

// DefinitionChange is a definition created, changed or deleted (Def nil),
// or CaughtUp: every definition current when the watch began was sent.
type DefinitionChange struct {
	Kind     Kind
	Name     string
	Def      *Definition
	CaughtUp bool
}

// Watch sends every definition, then CaughtUp, then each change as it
// happens on any node, until ctx ends.
func (d *Definitions) Watch(ctx context.Context) (<-chan DefinitionChange, error) {
	in, err := d.kv.Watch(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make(chan DefinitionChange)
	go func() {
		defer close(out)
		for c := range in {
			var dc DefinitionChange
			switch {
			case c.CaughtUp:
				dc.CaughtUp = true
			default:
				kind, name, ok := strings.Cut(c.Key, ".")
				if !ok {
					continue
				}
				dc.Kind, dc.Name = Kind(kind), name
				if !c.Deleted {
					var def Definition
					if json.Unmarshal(c.Value, &def) != nil {
						continue
					}
					dc.Def = &def
				}
			}
			select {
			case out <- dc:
			case <-ctx.Done():
				for range in { // let the engine's watch end
				}
				return
			}
		}
	}()
	return out, nil
}
