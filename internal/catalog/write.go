package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/schema"
)

// IncompatibleError lists the breaking changes of a refused schema version.
type IncompatibleError struct {
	Stream  string
	Changes []schema.Change
}

func (e *IncompatibleError) Error() string {
	msg := fmt.Sprintf("%s: new schema for %q breaks consumers in %d way(s)", ErrIncompatible, e.Stream, len(e.Changes))
	for _, c := range e.Changes {
		msg += "; " + c.String()
	}
	return msg + " (use force to replace it anyway)"
}

func (e *IncompatibleError) Unwrap() error { return ErrIncompatible }

// Create stores a new definition with its first schema version.
func (c *Catalog) Create(ctx context.Context, s Stream, sch schema.Bundle) (Stream, error) {
	s.Defaults()
	if err := s.Validate(); err != nil {
		return Stream{}, err
	}
	if _, err := schema.Compile(sch); err != nil {
		return Stream{}, fmt.Errorf("%w: schema: %v", ErrInvalid, err)
	}
	now := time.Now().UTC()
	s.Version, s.Created, s.Updated = 1, now, now
	if err := c.putVersion(ctx, s.Name, Version{Version: 1, Schema: sch, Created: now}); err != nil {
		return Stream{}, err
	}
	raw, _ := json.Marshal(s)
	if _, err := c.kv.Create(ctx, streamKey(s.Name), raw); err != nil {
		if errors.Is(err, engine.ErrExists) {
			return Stream{}, fmt.Errorf("%w: %q", ErrExists, s.Name)
		}
		return Stream{}, err
	}
	return s, nil
}

// leftoverAge is how old a schema version the stream does not name must
// be before it counts as a leftover of a write that failed half-way, and
// may be replaced: a younger one is another node's write in progress.
const leftoverAge = 30 * time.Second

// putVersion writes a schema version. If the version is there already
// (nodes started at once with one config all write it, or an earlier
// write failed before the stream named it), one with the same schema is
// kept; a leftover with another schema is replaced at its revision; one
// written moments ago with another schema is another node's: refused.
func (c *Catalog) putVersion(ctx context.Context, name string, v Version) error {
	raw, _ := json.Marshal(v)
	key := versionKey(name, v.Version)
	_, err := c.kv.Create(ctx, key, raw)
	if !errors.Is(err, engine.ErrExists) {
		return err
	}
	old, rev, err := c.kv.Get(ctx, key)
	if err != nil {
		return err
	}
	var there Version
	if err := json.Unmarshal(old, &there); err != nil {
		return fmt.Errorf("stored schema %q v%d: %w", name, v.Version, err)
	}
	if there.Schema.Equal(v.Schema) {
		return nil
	}
	if time.Since(there.Created) < leftoverAge {
		if v.Version == 1 {
			return fmt.Errorf("%w: %q: another node is creating it with another schema", ErrExists, name)
		}
		return fmt.Errorf("stream %q: schema version %d is being written by another node with another schema: %w", name, v.Version, engine.ErrConflict)
	}
	_, err = c.kv.Update(ctx, key, raw, rev)
	return err
}

// SetSchema adds a schema version if it is backward compatible with the
// current one, or if force is set (the breaking changes are then recorded
// in the version). A schema equal to the current one changes nothing.
func (c *Catalog) SetSchema(ctx context.Context, name string, sch schema.Bundle, force bool) (Version, bool, error) {
	next, err := schema.Compile(sch)
	if err != nil {
		return Version{}, false, fmt.Errorf("%w: schema: %v", ErrInvalid, err)
	}
	for attempt := 0; ; attempt++ {
		s, rev, err := c.Get(ctx, name)
		if err != nil {
			return Version{}, false, err
		}
		cur, err := c.Version(ctx, name, s.Version)
		if err != nil {
			return Version{}, false, err
		}
		if cur.Schema.Equal(sch) {
			return cur, false, nil
		}
		old, err := schema.Compile(cur.Schema)
		if err != nil {
			return Version{}, false, fmt.Errorf("stored schema %q v%d: %w", name, cur.Version, err)
		}
		changes := schema.Breaking(old, next)
		if len(changes) > 0 && !force {
			return Version{}, false, &IncompatibleError{Stream: name, Changes: changes}
		}
		v := Version{Version: s.Version + 1, Schema: sch, Created: time.Now().UTC(), Forced: len(changes) > 0, Breaking: changes}
		if err := c.putVersion(ctx, name, v); err != nil {
			return Version{}, false, err
		}
		s.Version, s.Updated = v.Version, v.Created
		raw, _ := json.Marshal(s)
		if _, err := c.kv.Update(ctx, streamKey(name), raw, rev); errors.Is(err, engine.ErrConflict) && attempt < 5 {
			continue // another node changed the stream meanwhile: check again
		} else if err != nil {
			return Version{}, false, err
		}
		return v, true, nil
	}
}

// UpdateSettings changes a stream's id, time, key and preview pointers,
// limits and replicas, keeping its schema versions. It reports whether anything changed.
func (c *Catalog) UpdateSettings(ctx context.Context, want Stream) (Stream, bool, error) {
	want.Defaults()
	if err := want.Validate(); err != nil {
		return Stream{}, false, err
	}
	for attempt := 0; ; attempt++ {
		s, rev, err := c.Get(ctx, want.Name)
		if err != nil {
			return Stream{}, false, err
		}
		if sameSettings(s, want) {
			return s, false, nil
		}
		s.ID, s.Time, s.Key, s.Retention, s.DuplicateWindow = want.ID, want.Time, want.Key, want.Retention, want.DuplicateWindow
		s.Replicas, s.Preview = want.Replicas, want.Preview
		s.Updated = time.Now().UTC()
		raw, _ := json.Marshal(s)
		if _, err := c.kv.Update(ctx, streamKey(s.Name), raw, rev); errors.Is(err, engine.ErrConflict) && attempt < 5 {
			continue
		} else if err != nil {
			return Stream{}, false, err
		}
		return s, true, nil
	}
}

func sameSettings(a, b Stream) bool {
	if a.ID != b.ID || a.Time != b.Time || a.Retention != b.Retention || a.DuplicateWindow != b.DuplicateWindow ||
		a.Replicas != b.Replicas {
		return false
	}
	return slices.Equal(a.Key, b.Key) && slices.Equal(a.Preview, b.Preview)
}

// Delete removes a definition and all its schema versions.
func (c *Catalog) Delete(ctx context.Context, name string) error {
	if _, _, err := c.Get(ctx, name); err != nil {
		return err
	}
	if err := c.kv.Delete(ctx, streamKey(name)); err != nil {
		return err
	}
	versions, err := c.kv.Keys(ctx, "schemas."+name+".")
	if err != nil {
		return err
	}
	for _, k := range versions {
		if len(k) == len("schemas."+name+".")+6 {
			if err := c.kv.Delete(ctx, k); err != nil {
				return err
			}
		}
	}
	return nil
}
