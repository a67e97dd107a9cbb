package sqltable

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/table"
)

// A migration is one versioned schema change: statements, then a function
// (either may be missing).
type migration struct {
	stmts []string
	f     func(ctx context.Context, tx *sql.Tx, d Dialect) error
}

// migrations are the versioned schema changes, version i+1 at index i. Never
// edit one that has shipped: append a new one.
var migrations = []migration{
	// 1: the registry of tables.
	{stmts: []string{`CREATE TABLE IF NOT EXISTS sluice_tables (name TEXT PRIMARY KEY, created_us BIGINT NOT NULL)`}},
	// 2: the primary key of every table is (stream, seq, key) instead of
	// (key, stream, seq); see the package doc.
	{f: rekey},
}

// migrate applies the migrations not yet recorded in schema_migrations, each
// in its own transaction.
func migrate(ctx context.Context, db *sql.DB, d Dialect) error {
	for i, m := range migrations {
		if err := migrateOne(ctx, db, d, int64(i+1), m); err != nil {
			return fmt.Errorf("migrate %s schema to version %d: %w", d.Name, i+1, err)
		}
	}
	return nil
}

func migrateOne(ctx context.Context, db *sql.DB, d Dialect, version int64, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if d.Lock != "" {
		if _, err := tx.ExecContext(ctx, d.Lock); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_us BIGINT NOT NULL)`); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, d.rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	for _, s := range m.stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	if m.f != nil {
		if err := m.f(ctx, tx, d); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO schema_migrations (version, applied_us) VALUES (?, ?)`), version, time.Now().UnixMicro()); err != nil {
		return err
	}
	return tx.Commit()
}

// rekey gives every table the primary key (stream, seq, key) (migration 2):
// it copies each into a new table and renames that. The statements are
// those of version 2, kept here as they were whatever createSQL becomes.
func rekey(ctx context.Context, tx *sql.Tx, d Dialect) error {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sluice_tables ORDER BY name`)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		names = append(names, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range names {
		if err := table.ValidName(name); err != nil {
			return err
		}
		for _, s := range []string{
			`CREATE TABLE n_{name} (key {text} NOT NULL, valid_from BIGINT NOT NULL, seq BIGINT NOT NULL,
				stream {text} NOT NULL, deleted BOOLEAN NOT NULL, value TEXT, CONSTRAINT p_{name} PRIMARY KEY (stream, seq, key))`,
			`INSERT INTO n_{name} (key, valid_from, seq, stream, deleted, value)
				SELECT key, valid_from, seq, stream, deleted, value FROM t_{name} ORDER BY stream, seq, key`,
			`DROP TABLE t_{name}`, // and its index x_{name}
			`ALTER TABLE n_{name} RENAME TO t_{name}`,
			`CREATE INDEX x_{name} ON t_{name} (key, valid_from, seq, stream)`,
		} {
			s = strings.NewReplacer("{name}", name, "{text}", d.Text).Replace(s)
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("table %q: %w", name, err)
			}
		}
	}
	return nil
}
