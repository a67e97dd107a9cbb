package sqltable

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/table"
)

// The versions of a key are ordered by (valid_from, seq, stream); ValidTo of
// a version is the valid_from of the next one.
const (
	getSQL = `SELECT valid_from, seq, stream, deleted, value,
		(SELECT MIN(n.valid_from) FROM {t} n WHERE n.key = ? AND n.valid_from > ?)
	FROM {t} WHERE key = ? AND valid_from <= ?
	ORDER BY valid_from DESC, seq DESC, stream DESC LIMIT 1`

	// A version shadowed by another with the same valid_from (valid_to =
	// valid_from) overlaps nothing.
	historySQL = `SELECT valid_from, seq, stream, deleted, value, valid_to FROM (
		SELECT valid_from, seq, stream, deleted, value,
			LEAD(valid_from) OVER (ORDER BY valid_from, seq, stream) AS valid_to
		FROM {t} WHERE key = ?) h
	WHERE valid_from < ? AND (valid_to IS NULL OR (valid_to > ? AND valid_to > valid_from))
	ORDER BY valid_from, seq, stream`

	// Args: at, at, cursor, prefix, length of prefix in characters, prefix,
	// limit.
	scanSQL = `SELECT c.key, c.valid_from, c.seq, c.stream, c.deleted, c.value,
		(SELECT MIN(n.valid_from) FROM {t} n WHERE n.key = c.key AND n.valid_from > ?)
	FROM (
		SELECT key, valid_from, seq, stream, deleted, value,
			ROW_NUMBER() OVER (PARTITION BY key ORDER BY valid_from DESC, seq DESC, stream DESC) AS rn
		FROM {t} WHERE valid_from <= ? AND key > ? AND key >= ? AND substr(key, 1, ?) = ?) c
	WHERE c.rn = 1 AND NOT c.deleted
	ORDER BY c.key LIMIT ?`
)

// DefaultLimit is the page size of Scan when limit is 0; MaxLimit caps it.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// scanVersion reads the columns lead..., valid_from, seq, stream, deleted,
// value, valid_to.
func scanVersion(r scanner, v *table.Version, lead ...any) error {
	var (
		from, seq int64
		value     sql.NullString
		to        sql.NullInt64
	)
	if err := r.Scan(append(lead, &from, &seq, &v.Stream, &v.Deleted, &value, &to)...); err != nil {
		return err
	}
	v.ValidFrom, v.Seq = time.UnixMicro(from).UTC(), uint64(seq)
	if value.Valid && !v.Deleted {
		v.Value = []byte(value.String)
	}
	if to.Valid {
		t := time.UnixMicro(to.Int64).UTC()
		v.ValidTo = &t
	}
	return nil
}

// Get implements table.Store.
func (s *Store) Get(ctx context.Context, name, key string, at time.Time) (table.Version, error) {
	if err := check(name, key); err != nil {
		return table.Version{}, err
	}
	us := at.UnixMicro()
	v := table.Version{Key: key}
	qctx := ctx
	if s.d.InProcess {
		// The lookup takes microseconds of CPU. Watching ctx while it runs
		// (database/sql and the driver start a goroutine each to do so)
		// would cost more; ctx is checked before it starts.
		qctx = context.WithoutCancel(ctx)
	}
	stmt, err := s.stmt(ctx, name, stmtGet)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = scanVersion(stmt.QueryRowContext(qctx, key, us, key, us), &v)
	}
	if err == nil && !v.Deleted {
		return v, nil
	}
	op := fmt.Sprintf("get key %q at %s from", key, at.Format(time.RFC3339Nano))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return table.Version{}, fmt.Errorf("%s table %q: %w", op, name, table.ErrNotFound)
	case err != nil:
		return table.Version{}, s.fail(ctx, op, name, err)
	case v.Deleted:
		return table.Version{}, fmt.Errorf("%s table %q: deleted: %w", op, name, table.ErrNotFound)
	}
	return v, nil
}

// History implements table.Store.
func (s *Store) History(ctx context.Context, name, key string, from, to time.Time) ([]table.Version, error) {
	if err := check(name, key); err != nil {
		return nil, err
	}
	op := fmt.Sprintf("history of key %q in", key)
	stmt, err := s.stmt(ctx, name, stmtHistory)
	var rows *sql.Rows
	if err == nil {
		rows, err = stmt.QueryContext(ctx, key, to.UnixMicro(), from.UnixMicro())
	}
	if err != nil {
		return nil, s.fail(ctx, op, name, err)
	}
	defer rows.Close()
	var vs []table.Version
	for rows.Next() {
		v := table.Version{Key: key}
		if err := scanVersion(rows, &v); err != nil {
			return nil, fmt.Errorf("%s table %q: %w", op, name, err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s table %q: %w", op, name, err)
	}
	return vs, nil
}

// Scan implements table.Store.
func (s *Store) Scan(ctx context.Context, name string, at time.Time, prefix string, limit int, cursor string) ([]table.Version, string, error) {
	if err := table.ValidName(name); err != nil {
		return nil, "", err
	}
	if !text(prefix) || !text(cursor) {
		return nil, "", fmt.Errorf("scan table %q: prefix %q or cursor %q: not UTF-8 without NUL: %w", name, prefix, cursor, table.ErrInvalid)
	}
	switch {
	case limit < 0:
		return nil, "", fmt.Errorf("scan table %q: limit %d: %w", name, limit, table.ErrInvalid)
	case limit == 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	us := at.UnixMicro()
	op := fmt.Sprintf("scan prefix %q after %q at %s in", prefix, cursor, at.Format(time.RFC3339Nano))
	stmt, err := s.stmt(ctx, name, stmtScan)
	var rows *sql.Rows
	if err == nil {
		rows, err = stmt.QueryContext(ctx, us, us, cursor, prefix, utf8.RuneCountInString(prefix), prefix, limit+1)
	}
	if err != nil {
		return nil, "", s.fail(ctx, op, name, err)
	}
	defer rows.Close()
	var vs []table.Version
	for rows.Next() {
		var v table.Version
		if err := scanVersion(rows, &v, &v.Key); err != nil {
			return nil, "", fmt.Errorf("%s table %q: %w", op, name, err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("%s table %q: %w", op, name, err)
	}
	if len(vs) <= limit {
		return vs, "", nil
	}
	vs = vs[:limit]
	return vs, vs[limit-1].Key, nil
}

// check validates a table name and a key.
func check(name, key string) error {
	if err := table.ValidName(name); err != nil {
		return err
	}
	return table.ValidKey(key)
}

func text(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
