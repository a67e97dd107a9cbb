package sqltable

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/table"
)

// Config is what Open needs.
type Config struct {
	// Write runs transactions that write; Read runs queries. They may be
	// the same *sql.DB. Close closes both.
	Write, Read *sql.DB
	Dialect     Dialect
	// Close, if set, is called last by Store.Close (to close a driver pool).
	Close func()
}

// Store is a table.Store over database/sql.
type Store struct {
	write, read *sql.DB
	d           Dialect
	close       func()
	stmts       stmts
}

var _ table.Store = (*Store)(nil)

// Open runs the schema migrations and returns the store. On error it closes
// nothing: the caller still owns the databases.
func Open(ctx context.Context, c Config) (*Store, error) {
	if err := migrate(ctx, c.Write, c.Dialect); err != nil {
		return nil, err
	}
	return &Store{write: c.Write, read: c.Read, d: c.Dialect, close: c.Close}, nil
}

// Close closes the databases.
func (s *Store) Close() error {
	err := errors.Join(s.forget(""), s.read.Close())
	if s.write != s.read {
		err = errors.Join(err, s.write.Close())
	}
	if s.close != nil {
		s.close()
	}
	return err
}

// q returns statement for table name, placeholders rebound.
func (s *Store) q(name, statement string) string { return s.d.rebind(expand(s.d, name, statement)) }

// expand replaces in statement, for table name: {t} by the SQL table, {p}
// and {x} by the names of its primary key and index, and {text} by the
// dialect's bytewise text type.
func expand(d Dialect, name, statement string) string {
	return strings.NewReplacer("{t}", "t_"+name, "{p}", "p_"+name, "{x}", "x_"+name, "{text}", d.Text).Replace(statement)
}

// createSQL creates a table in the layout of the latest migration.
var createSQL = []string{
	`CREATE TABLE IF NOT EXISTS {t} (key {text} NOT NULL, valid_from BIGINT NOT NULL, seq BIGINT NOT NULL,
		stream {text} NOT NULL, deleted BOOLEAN NOT NULL, value TEXT, CONSTRAINT {p} PRIMARY KEY (stream, seq, key))`,
	`CREATE INDEX IF NOT EXISTS {x} ON {t} (key, valid_from, seq, stream)`,
}

// Create implements table.Store.
func (s *Store) Create(ctx context.Context, name string) error {
	if err := table.ValidName(name); err != nil {
		return err
	}
	err := s.schemaTx(ctx, func(tx *sql.Tx) error {
		for _, st := range createSQL {
			if _, err := tx.ExecContext(ctx, s.q(name, st)); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, s.q(name, `INSERT INTO sluice_tables (name, created_us) VALUES (?, ?) ON CONFLICT DO NOTHING`),
			name, time.Now().UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("create table %q: %w", name, err)
	}
	return nil
}

// Drop implements table.Store.
func (s *Store) Drop(ctx context.Context, name string) error {
	if err := table.ValidName(name); err != nil {
		return err
	}
	err := s.schemaTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(name, `DROP TABLE IF EXISTS {t}`)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(name, `DELETE FROM sluice_tables WHERE name = ?`), name)
		return err
	})
	if err != nil {
		return fmt.Errorf("drop table %q: %w", name, err)
	}
	return s.forget(name)
}

func (s *Store) schemaTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.d.Lock != "" {
		if _, err := tx.ExecContext(ctx, s.d.Lock); err != nil {
			return err
		}
	}
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Put implements table.Store.
func (s *Store) Put(ctx context.Context, name string, ws []table.Write) error {
	if err := table.ValidName(name); err != nil {
		return err
	}
	for i, w := range ws {
		if err := w.Validate(); err != nil {
			return fmt.Errorf("put into table %q: write %d: %w", name, i, err)
		}
	}
	if len(ws) == 0 {
		return nil
	}
	// Sorted in primary key order, concurrent batches lock rows in the same
	// order: no deadlock. The sort is stable, so that of two writes of one
	// (key, stream, seq) in a batch the first is stored.
	ws = slices.Clone(ws)
	slices.SortStableFunc(ws, func(a, b table.Write) int {
		return cmp.Or(strings.Compare(a.Stream, b.Stream), cmp.Compare(a.Seq, b.Seq), strings.Compare(a.Key, b.Key))
	})
	if err := s.put(ctx, name, ws); err != nil {
		return s.fail(ctx, fmt.Sprintf("put %d writes into", len(ws)), name, err)
	}
	return nil
}

// put inserts ws in one transaction, Dialect.InsertRows rows per statement
// (6 parameters each; far below the engines' parameter limits).
func (s *Store) put(ctx context.Context, name string, ws []table.Write) error {
	insert, err := s.stmt(ctx, name, stmtInsert)
	if err != nil {
		return err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	full := tx.StmtContext(ctx, insert)
	rows := s.d.insertRows()
	args := make([]any, 0, 6*rows)
	for chunk := range slices.Chunk(ws, rows) {
		args = args[:0]
		for _, w := range chunk {
			var value any // NULL for a tombstone
			if !w.Tombstone() {
				value = string(w.Value)
			}
			args = append(args, w.Key, w.ValidFrom.UnixMicro(), int64(w.Seq), w.Stream, w.Tombstone(), value)
		}
		if len(chunk) == rows {
			_, err = full.ExecContext(ctx, args...)
		} else { // the last, shorter chunk
			_, err = tx.ExecContext(ctx, s.q(name, insertSQL(len(chunk))), args...)
		}
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}

func insertSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO {t} (key, valid_from, seq, stream, deleted, value) VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?, ?, ?, ?, ?, ?)`)
	}
	b.WriteString(` ON CONFLICT DO NOTHING`)
	return b.String()
}

// fail wraps err with what failed (op, "get key \"k\" from", and the
// table). If the table does not exist, which the engines report each in
// their own words, it wraps table.ErrNoTable instead.
func (s *Store) fail(ctx context.Context, op, name string, err error) error {
	var n int
	q := s.q(name, `SELECT COUNT(*) FROM sluice_tables WHERE name = ?`)
	if s.read.QueryRowContext(ctx, q, name).Scan(&n) == nil && n == 0 {
		err = table.ErrNoTable
	}
	return fmt.Errorf("%s table %q: %w", op, name, err)
}
