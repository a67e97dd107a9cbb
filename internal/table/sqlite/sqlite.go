// Package sqlite stores temporal tables in a SQLite file (modernc.org/sqlite,
// no cgo), in WAL mode: one connection writes, up to four read concurrently.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/sluice-dev/sluice/internal/table/sqltable"
)

// Store is a table.Store in a SQLite file.
type Store struct {
	*sqltable.Store
	ckpt     *sql.DB      // the checkpoints' own connection
	complete atomic.Int64 // checkpoints that copied the whole WAL
	stop     context.CancelFunc
	done     chan struct{}
}

// readers is how many connections read at the same time.
const readers = 4

// The connections' settings (docs/BENCHMARKS.md has what each one buys):
//
//   - every connection maps up to 1 GiB of the file into memory (mmap_size),
//     so that reading a page the connection's cache does not hold is a
//     memory access, not a system call;
//   - the writer keeps a 64 MiB page cache (cache_size): the lookup index of
//     a million versions stays in it, so a write reads no page back;
//   - a connection of its own copies the WAL back into the database (a
//     passive checkpoint, which waits for no reader or writer) every second:
//     once a checkpoint has copied it all, a lookup reads its pages through
//     the memory mapping, where a page
//     still in the WAL takes a search of the WAL's index, a system call and a
//     place in SQLite's page cache, which all connections share behind one
//     mutex (lookups after a load of a million versions: twice as fast);
//   - the writer checkpoints itself only when the WAL holds 50,000 pages
//     (about 200 MiB) instead of SQLite's 1,000, in case the checkpoints
//     above fall behind.
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
	ckpt, err := sql.Open("sqlite", "file:"+path+common)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite %q: %w", path, err), s.Close())
	}
	ckpt.SetMaxOpenConns(1)
	ctx, stop := context.WithCancel(context.Background())
	st := &Store{Store: s, ckpt: ckpt, stop: stop, done: make(chan struct{})}
	go st.checkpoints(ctx, path)
	return st, nil
}

// checkpointEvery is how often the WAL is copied back into the database.
const checkpointEvery = time.Second

// checkpoints runs a passive checkpoint every checkpointEvery until ctx
// ends. A passive checkpoint copies what no reader's snapshot still needs,
// so one may end incomplete (a long read holds it back) and the next one
// goes on; only a failure, or a minute without a complete checkpoint while
// the WAL has frames, is logged (once until it changes). The writer's own
// checkpoints remain in any case.
func (s *Store) checkpoints(ctx context.Context, path string) {
	defer close(s.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var last string
	behind := 0 // incomplete checkpoints in a row
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var busy, frames, copied int
		err := s.ckpt.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			if msg := err.Error(); msg != last {
				slog.Warn("table store: checkpoint failed", "file", path, "err", err)
				last = msg
			}
		case busy == 0 && copied >= frames:
			s.complete.Add(1)
			last, behind = "", 0
		default:
			if behind++; behind == int(time.Minute/checkpointEvery) {
				slog.Warn("table store: no complete checkpoint for a minute: a long read holds the WAL back",
					"file", path, "wal_frames", frames, "copied", copied)
			}
		}
	}
}

// Close stops the checkpoints and closes the connections.
func (s *Store) Close() error {
	s.stop()
	<-s.done
	return errors.Join(s.ckpt.Close(), s.Store.Close())
}
