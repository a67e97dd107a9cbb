package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/table"
	"github.com/sluice-dev/sluice/internal/table/sqlite"
	"github.com/sluice-dev/sluice/internal/table/sqltable"
	"github.com/sluice-dev/sluice/internal/table/tabletest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStore(t *testing.T) {
	tabletest.Run(t, func(t *testing.T) table.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "tables.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestReopen checks that the migrations run once and the data stays.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tables.db")
	for i := range 2 {
		s, err := sqlite.Open(path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if err := s.Create(t.Context(), "pages"); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			err = s.Put(t.Context(), "pages", []table.Write{{Key: "k", ValidFrom: time.Unix(1, 0), Value: []byte(`1`), Stream: "s", Seq: 1}})
		} else {
			_, err = s.Get(t.Context(), "pages", "k", time.Unix(2, 0))
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUpgrade opens a database of schema version 1.
func TestUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tables.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tabletest.Upgrade(t, db, sqltable.SQLite.Text, func(t *testing.T) table.Store {
		s, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestBackgroundCheckpoints: the store checkpoints the WAL on its own
// connection about every second, while it is open (and stops on Close:
// goleak checks), and lookups and writes go on meanwhile; between them the
// checkpoints copy the whole WAL.
func TestBackgroundCheckpoints(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "tables.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if err := s.Create(ctx, "pages"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for i := range 40 {
		w := table.Write{Key: "page", ValidFrom: t0.Add(time.Duration(i) * 100 * time.Millisecond), Value: []byte(`{"n":1}`), Stream: "s", Seq: uint64(i + 1)}
		if err := s.Put(ctx, "pages", []table.Write{w}); err != nil {
			t.Fatal(err)
		}
		if v, err := s.Get(ctx, "pages", "page", w.ValidFrom); err != nil || v.Seq != w.Seq {
			t.Fatalf("write %d: %+v %v", i, v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := s.CompleteCheckpoints(); n < 1 {
		t.Fatalf("%d complete background checkpoints in 2 s", n)
	}
}
