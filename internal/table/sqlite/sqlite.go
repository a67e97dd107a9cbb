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

// The connections' settings (docs/BENCHMARKS.md has what each one buys):
//
//   - every connection maps up to 1 GiB of the file into memory (mmap_size),
//     so that reading a page the connection's cache does not hold is a
//     memory access, not a system call;
//   - the writer keeps a 64 MiB page cache (cache_size): the lookup index of
//     a million versions stays in it, so a write reads no page back;
//   - the writer copies the WAL back into the database (a checkpoint) when
//     it holds 50,000 pages (about 200 MiB) instead of 1,000: a page changed
//     by many transactions in between is copied once.
//
// Commits are durable (synchronous=FULL, SQLite's default).
const (
	common = "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=mmap_size(1073741824)"
	writer = "&_pragma=journal_mode(WAL)&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(50000)&_txlock=immediate"
	reader = "&_pragma=query_only(1)"
)

// Open opens (creating it if needed) the database file at path and migrates
// its schema. The path must name a file: ":memory:" would give the writer
// and the readers different databases.
func Open(path string) (*Store, error) {
	write, err := sql.Open("sqlite", "file:"+path+common+writer)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	write.SetMaxOpenConns(1) // SQLite has one writer at a time anyway
	// The writer connection sets WAL mode before any reader opens.
	if err := write.Ping(); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	read, err := sql.Open("sqlite", "file:"+path+common+reader)
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
