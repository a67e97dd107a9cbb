// Package table defines temporal tables: every version of every key is kept,
// so a table answers "what was the value of key K at time T".
//
// A version is valid from its ValidFrom until the next version's ValidFrom.
// Writes are idempotent by (key, stream, seq): writing the same output twice
// stores one version, and the first write of a (key, stream, seq) wins. They
// are order independent: a late, older event inserts an older version and
// never overwrites a newer one. Versions of a key are ordered by
// (ValidFrom, Seq, Stream), so at equal times the higher sequence wins. A
// deletion is a tombstone version: a key whose version at T is a tombstone
// has no value at T.
//
// Times have microsecond precision (they are stored as unix microseconds).
package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	// ErrNotFound means a key has no value at the time asked: no version
	// yet, or its version at that time is a tombstone.
	ErrNotFound = errors.New("not found")
	// ErrInvalid means a bad table name, key, time or write.
	ErrInvalid = errors.New("invalid")
	// ErrNoTable means the table was never created, or was dropped.
	ErrNoTable = errors.New("no such table")
)

// Version is one version of a key.
type Version struct {
	Key       string
	ValidFrom time.Time
	// ValidTo is the next version's ValidFrom (exclusive), nil while the
	// version is still valid.
	ValidTo *time.Time
	// Value is the version's JSON value, nil for a tombstone.
	Value   json.RawMessage
	Deleted bool
	// Stream and Seq name the input that wrote the version.
	Stream string
	Seq    uint64
}

// Found reports whether v is a version, not the answer of GetMany for a key
// without a value: a stored version never has a zero ValidFrom (Validate
// refuses it).
func (v Version) Found() bool { return !v.ValidFrom.IsZero() }

// Write is one versioned write. It is a tombstone if Deleted is set or Value
// is empty (a JSON null is a value, not a deletion).
type Write struct {
	Key       string
	ValidFrom time.Time
	Value     json.RawMessage
	Deleted   bool
	Stream    string
	Seq       uint64
}

// Tombstone reports whether w deletes its key.
func (w Write) Tombstone() bool { return w.Deleted || len(w.Value) == 0 }

// Validate checks that w can be stored by every implementation: a key and
// stream of valid UTF-8 without NUL, a key that is not empty, a non-zero
// time, a sequence that fits a signed 64-bit column and, unless w is a
// tombstone, a valid JSON value.
func (w Write) Validate() error {
	if err := ValidKey(w.Key); err != nil {
		return err
	}
	if !validText(w.Stream) {
		return fmt.Errorf("stream %q: not UTF-8 without NUL: %w", w.Stream, ErrInvalid)
	}
	if w.ValidFrom.IsZero() {
		return fmt.Errorf("key %q: zero valid_from: %w", w.Key, ErrInvalid)
	}
	if w.Seq > math.MaxInt64 {
		return fmt.Errorf("key %q: seq %d over 2^63-1: %w", w.Key, w.Seq, ErrInvalid)
	}
	if !w.Tombstone() && (!json.Valid(w.Value) || !validText(string(w.Value))) {
		return fmt.Errorf("key %q: value is not JSON in UTF-8: %w", w.Key, ErrInvalid)
	}
	return nil
}

// Store is a set of temporal tables.
type Store interface {
	// Create creates a table; creating an existing table does nothing.
	Create(ctx context.Context, table string) error
	// Put writes a batch in one transaction: all of it or none of it.
	// Writing a (key, stream, seq) already stored does nothing.
	Put(ctx context.Context, table string, ws []Write) error
	// Get returns the version of key valid at at: the greatest
	// (ValidFrom, Seq, Stream) with ValidFrom <= at. It returns ErrNotFound
	// if there is none or it is a tombstone.
	Get(ctx context.Context, table, key string, at time.Time) (Version, error)
	// GetMany looks up keys at at as Get does, and returns one version per
	// key, in the order of keys (a key given twice is answered twice). A
	// key without a value at at (no version yet, or a tombstone) gets a
	// Version with only its Key set: Found reports false.
	GetMany(ctx context.Context, table string, keys []string, at time.Time) ([]Version, error)
	// History returns the versions of key valid at some time in [from, to),
	// tombstones included, in order. A version shadowed by one with the same
	// ValidFrom and a higher Seq was never valid and is left out.
	History(ctx context.Context, table, key string, from, to time.Time) ([]Version, error)
	// Scan returns the value of every key starting with prefix at at,
	// ordered by key (bytewise), after the key cursor, at most limit of
	// them (0 means 100). next is the cursor of the next page, "" after the
	// last one.
	Scan(ctx context.Context, table string, at time.Time, prefix string, limit int, cursor string) (vs []Version, next string, err error)
	// Drop deletes a table and all its versions; dropping a missing table
	// does nothing.
	Drop(ctx context.Context, table string) error
	Close() error
}

// MaxNameLen is the longest table name: PostgreSQL identifiers have at most
// 63 bytes, and a table is stored as t_<name>.
const MaxNameLen = 61

var namePattern = regexp.MustCompile(`^[a-z0-9_]+$`)

// ValidName returns an error wrapping ErrInvalid unless name is a table
// name: 1 to MaxNameLen characters of [a-z0-9_].
func ValidName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen || !namePattern.MatchString(name) {
		return fmt.Errorf("table name %q: want 1 to %d of [a-z0-9_]: %w", name, MaxNameLen, ErrInvalid)
	}
	return nil
}

// ValidKey returns an error wrapping ErrInvalid unless key is a non-empty
// UTF-8 string without NUL.
func ValidKey(key string) error {
	if key == "" || !validText(key) {
		return fmt.Errorf("key %q: want non-empty UTF-8 without NUL: %w", key, ErrInvalid)
	}
	return nil
}

func validText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
