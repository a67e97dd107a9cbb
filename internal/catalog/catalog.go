// Package catalog keeps the definition of every stream and every version of
// its schema in an engine key/value bucket, so the catalog survives restarts
// and every node sharing the engine sees the same one.
package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/schema"
)

// Errors callers match with errors.Is.
var (
	ErrNotFound     = errors.New("stream not found")
	ErrExists       = errors.New("stream already exists")
	ErrInvalid      = errors.New("invalid stream definition")
	ErrIncompatible = errors.New("schema change is not backward compatible")
)

// Defaults for a stream definition.
const (
	DefaultID              = "/meta/id"
	DefaultTime            = "/meta/dt"
	DefaultDuplicateWindow = 2 * time.Minute
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)*$`)

// MaxPreview is how many fields a stream's preview may list.
const MaxPreview = 8

// NameRule says what ValidName accepts, for error messages.
const NameRule = "1 to 128 of [a-z0-9._-], starting with a letter or digit, with no dot at the end or beside another"

// ReplicasRule says what ValidReplicas accepts, for error messages.
const ReplicasRule = "1, 3 or 5"

// ValidReplicas reports whether n can be a stream's replicas (0: unset, the
// node's default). Even counts are refused: 2 copies survive no more
// failures than 1 (a quorum of 2 is 2), 4 no more than 3.
func ValidReplicas(n int) bool { return n == 0 || n == 1 || n == 3 || n == 5 }

// ValidName reports whether s can name a stream. The name becomes a NATS
// subject token sequence and a key of the catalog bucket: a dot at the
// end or two in a row would make an empty token, which NATS refuses.
func ValidName(s string) bool { return len(s) <= 128 && nameRE.MatchString(s) }

// Stream is a stream's definition.
type Stream struct {
	Name string `json:"name"`
	// ID is the JSON pointer to the event's unique id (de-duplication).
	ID string `json:"id"`
	// Time is the JSON pointer to the event time (RFC 3339).
	Time string `json:"time"`
	// Key lists JSON pointers whose values, joined by "/", form the event key.
	Key []string `json:"key,omitempty"`
	// Preview lists JSON pointers whose values sum an event up in one line
	// (the UI's rows, sluice tail --preview); none: a default taken from
	// the schema (schema.DefaultPreview). At most MaxPreview.
	Preview         []string  `json:"preview,omitempty"`
	Retention       Retention `json:"retention"`
	DuplicateWindow Duration  `json:"duplicate_window"`
	// Replicas is the number of copies the engine keeps (1, 3 or 5, on as
	// many servers of a NATS cluster); 0: the node's default (nats_replicas).
	// A change is applied in place.
	Replicas int `json:"replicas,omitempty"`
	// Version is the current schema version.
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Retention bounds what a stream keeps; zero values mean no limit.
type Retention struct {
	MaxAge   Duration `json:"max_age,omitempty"`
	MaxBytes int64    `json:"max_bytes,omitempty"`
}

// Version is one version of a stream's schema.
type Version struct {
	Version int           `json:"version"`
	Schema  schema.Bundle `json:"schema"`
	Created time.Time     `json:"created"`
	// Forced is set when an operator replaced the schema despite breaking changes, listed in Breaking.
	Forced   bool            `json:"forced,omitempty"`
	Breaking []schema.Change `json:"breaking,omitempty"`
}

// Defaults fills the defaults in.
func (s *Stream) Defaults() {
	if s.ID == "" {
		s.ID = DefaultID
	}
	if s.Time == "" {
		s.Time = DefaultTime
	}
	if s.DuplicateWindow == 0 {
		s.DuplicateWindow = Duration(DefaultDuplicateWindow)
	}
}

// Validate checks a definition (after Defaults) and names the field at fault.
func (s *Stream) Validate() error {
	var errs []string
	if !ValidName(s.Name) {
		errs = append(errs, fmt.Sprintf("name %q: want %s", s.Name, NameRule))
	}
	for field, p := range map[string]string{"id": s.ID, "time": s.Time} {
		if !schema.ValidPointer(p) || p == "" {
			errs = append(errs, fmt.Sprintf("%s %q: not a JSON pointer (e.g. /meta/id)", field, p))
		}
	}
	for i, p := range s.Key {
		if !schema.ValidPointer(p) || p == "" {
			errs = append(errs, fmt.Sprintf("key[%d] %q: not a JSON pointer (e.g. /wiki)", i, p))
		}
	}
	if len(s.Preview) > MaxPreview {
		errs = append(errs, fmt.Sprintf("preview: at most %d fields, got %d", MaxPreview, len(s.Preview)))
	}
	for i, p := range s.Preview {
		if !schema.ValidPointer(p) || p == "" {
			errs = append(errs, fmt.Sprintf("preview[%d] %q: not a JSON pointer (e.g. /title)", i, p))
		} else if slices.Index(s.Preview, p) < i {
			errs = append(errs, fmt.Sprintf("preview[%d] %q: given twice", i, p))
		}
	}
	if s.Retention.MaxAge < 0 || s.Retention.MaxBytes < 0 {
		errs = append(errs, "retention: limits cannot be negative")
	}
	if s.DuplicateWindow < 0 {
		errs = append(errs, "duplicate_window: cannot be negative")
	}
	if s.Retention.MaxAge > 0 && time.Duration(s.DuplicateWindow) > time.Duration(s.Retention.MaxAge) {
		errs = append(errs, "duplicate_window: cannot exceed retention.max_age")
	}
	if !ValidReplicas(s.Replicas) {
		errs = append(errs, fmt.Sprintf("replicas: want %s, got %d", ReplicasRule, s.Replicas))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

// EngineConfig is what the engine needs to know of the stream.
func (s *Stream) EngineConfig() engine.StreamConfig {
	return engine.StreamConfig{
		Name:            s.Name,
		MaxAge:          time.Duration(s.Retention.MaxAge),
		MaxBytes:        s.Retention.MaxBytes,
		DuplicateWindow: time.Duration(s.DuplicateWindow),
		Replicas:        s.Replicas,
	}
}

// Catalog reads and writes definitions.
type Catalog struct {
	kv engine.KV
}

// Open opens the catalog bucket.
func Open(ctx context.Context, e engine.Engine) (*Catalog, error) {
	kv, err := e.KV(ctx, "catalog")
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	return &Catalog{kv: kv}, nil
}

func streamKey(name string) string         { return "streams." + name }
func versionKey(name string, v int) string { return fmt.Sprintf("schemas.%s.%06d", name, v) }

// Get returns a definition and its revision in the bucket; the revision
// changes whenever the definition does, so callers can cache by it.
func (c *Catalog) Get(ctx context.Context, name string) (Stream, uint64, error) {
	raw, rev, err := c.kv.Get(ctx, streamKey(name))
	if errors.Is(err, engine.ErrNotFound) {
		return Stream{}, 0, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if err != nil {
		return Stream{}, 0, err
	}
	var s Stream
	if err := json.Unmarshal(raw, &s); err != nil {
		return Stream{}, 0, fmt.Errorf("catalog entry %q: %w", name, err)
	}
	return s, rev, nil
}

// List returns every definition, by name.
func (c *Catalog) List(ctx context.Context) ([]Stream, error) {
	keys, err := c.kv.Keys(ctx, "streams.")
	if err != nil {
		return nil, err
	}
	out := make([]Stream, 0, len(keys))
	for _, k := range keys {
		s, _, err := c.Get(ctx, strings.TrimPrefix(k, "streams."))
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Version returns one schema version.
func (c *Catalog) Version(ctx context.Context, name string, v int) (Version, error) {
	raw, _, err := c.kv.Get(ctx, versionKey(name, v))
	if errors.Is(err, engine.ErrNotFound) {
		return Version{}, fmt.Errorf("%w: %q has no schema version %d", ErrNotFound, name, v)
	}
	if err != nil {
		return Version{}, err
	}
	var out Version
	if err := json.Unmarshal(raw, &out); err != nil {
		return Version{}, fmt.Errorf("catalog schema %q v%d: %w", name, v, err)
	}
	return out, nil
}

// Versions returns every schema version of a stream, oldest first.
func (c *Catalog) Versions(ctx context.Context, name string) ([]Version, error) {
	keys, err := c.kv.Keys(ctx, "schemas."+name+".")
	if err != nil {
		return nil, err
	}
	var out []Version
	for _, k := range keys {
		rest := strings.TrimPrefix(k, "schemas."+name+".")
		n, err := strconv.Atoi(rest)
		if err != nil || len(rest) != 6 {
			continue // a stream whose name extends this one ("a" and "a.b")
		}
		v, err := c.Version(ctx, name, n)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
