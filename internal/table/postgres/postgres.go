// Package postgres stores temporal tables in PostgreSQL (pgx/v5 with a
// pgxpool.Pool, used through database/sql so that it runs the very same
// statements as the other engines).
package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/sluice-dev/sluice/internal/table/sqltable"
)

// Store is a table.Store in PostgreSQL.
type Store struct{ *sqltable.Store }

// Open connects to the database at url (postgres://user@host:port/db?...;
// the search_path parameter picks the schema) and migrates its schema.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The error of ParseConfig does not repeat a password.
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	where := fmt.Sprintf("%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", where, err)
	}
	db := stdlib.OpenDBFromPool(pool)
	s, err := sqltable.Open(ctx, sqltable.Config{Write: db, Read: db, Dialect: sqltable.PostgreSQL, Close: pool.Close})
	if err != nil {
		db.Close()
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", where, err)
	}
	return &Store{s}, nil
}
