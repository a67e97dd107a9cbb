// Package sqlite stores temporal tables in a SQLite file (modernc.org/sqlite,
// no cgo), in WAL mode: one connection writes, up to four read concurrently.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/sluice-dev/sluice/internal/table/sqltable"
)

// Store is a table.Store in a SQLite file.
type Store struct{ *sqltable.Store }

// readers is how many connections read at the same time.
const readers = 4

// Open opens (creating it if needed) the database file at path and migrates
// its schema. The path must name a file: ":memory:" would give the writer
// and the readers different databases.
func Open(path string) (*Store, error) {
	const common = "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	write, err := sql.Open("sqlite", "file:"+path+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	write.SetMaxOpenConns(1) // SQLite has one writer at a time anyway
	// The writer connection sets WAL mode before any reader opens.
	if err := write.Ping(); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	read, err := sql.Open("sqlite", "file:"+path+common+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	read.SetMaxOpenConns(readers)
	read.SetMaxIdleConns(readers)
	s, err := sqltable.Open(context.Background(), sqltable.Config{Write: write, Read: read, Dialect: sqltable.SQLite})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite %q: %w", path, err), read.Close(), write.Close())
	}
	return &Store{s}, nil
}
