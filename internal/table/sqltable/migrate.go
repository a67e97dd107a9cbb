package sqltable

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are the versioned schema changes, version i+1 at index i. Never
// edit one that has shipped: append a new one.
var migrations = [][]string{
	// 1: the registry of tables.
	{`CREATE TABLE IF NOT EXISTS sluice_tables (name TEXT PRIMARY KEY, created_us BIGINT NOT NULL)`},
}

// migrate applies the migrations not yet recorded in schema_migrations, each
// in its own transaction.
func migrate(ctx context.Context, db *sql.DB, d Dialect) error {
	for i, stmts := range migrations {
		if err := migrateOne(ctx, db, d, int64(i+1), stmts); err != nil {
			return fmt.Errorf("migrate %s schema to version %d: %w", d.Name, i+1, err)
		}
	}
	return nil
}

func migrateOne(ctx context.Context, db *sql.DB, d Dialect, version int64, stmts []string) error {
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
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO schema_migrations (version, applied_us) VALUES (?, ?)`), version, time.Now().UnixMicro()); err != nil {
		return err
	}
	return tx.Commit()
}
