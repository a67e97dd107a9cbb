// Package tabletest is the conformance suite of table.Store: every
// implementation runs it against a real database.
package tabletest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/table"
)

// Run runs the suite. open returns a new store for one subtest, which Run
// closes when the subtest ends; tables are named uniquely and dropped at the
// end, so runs may share a database.
func Run(t *testing.T, open func(t *testing.T) table.Store) {
	tests := []struct {
		name string
		f    func(*testing.T, func(*testing.T) table.Store)
	}{
		{"Names", testNames},
		{"InvalidWrites", testInvalidWrites},
		{"GetAnyWriteOrder", testGetAnyWriteOrder},
		{"Duplicates", testDuplicates},
		{"Ties", testTies},
		{"Tombstones", testTombstones},
		{"GetMany", testGetMany},
		{"History", testHistory},
		{"Scan", testScan},
		{"ScanPrefix", testScanPrefix},
		{"ConcurrentPuts", testConcurrentPuts},
		{"Canceled", testCanceled},
		{"Property", testProperty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, open) })
	}
}

// t0 is second 0 of the tests' clock.
var t0 = time.Date(2023, 7, 29, 8, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

var tableSeq atomic.Int64

// uniqueName returns a table name no other test uses, even in another process.
func uniqueName() string {
	return fmt.Sprintf("tt_%016x_%d", rand.Uint64(), tableSeq.Add(1))
}

// env is one store with one fresh table.
type env struct {
	t     *testing.T
	s     table.Store
	table string
	ctx   context.Context
}

func newEnv(t *testing.T, open func(*testing.T) table.Store) *env {
	t.Helper()
	s := open(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	e := &env{t: t, s: s, table: uniqueName(), ctx: t.Context()}
	if err := s.Create(e.ctx, e.table); err != nil {
		t.Fatalf("create %q: %v", e.table, err)
	}
	t.Cleanup(func() { // runs before Close
		if err := s.Drop(context.Background(), e.table); err != nil {
			t.Errorf("drop %q: %v", e.table, err)
		}
	})
	return e
}

// w is a write of value (a JSON string) at second sec by stream "s".
func w(key string, sec int, seq uint64, value string) table.Write {
	return table.Write{Key: key, ValidFrom: at(sec), Seq: seq, Stream: "s", Value: []byte(fmt.Sprintf("%q", value))}
}

func tomb(key string, sec int, seq uint64) table.Write {
	return table.Write{Key: key, ValidFrom: at(sec), Seq: seq, Stream: "s", Deleted: true}
}

func (e *env) put(ws ...table.Write) {
	e.t.Helper()
	if err := e.s.Put(e.ctx, e.table, ws); err != nil {
		e.t.Fatalf("put: %v", err)
	}
}

// version is the expected version of a write, valid until second to (-1:
// still valid).
func version(wr table.Write, to int) table.Version {
	v := table.Version{Key: wr.Key, ValidFrom: wr.ValidFrom, Stream: wr.Stream, Seq: wr.Seq, Deleted: wr.Tombstone()}
	if !v.Deleted {
		v.Value = wr.Value
	}
	if to >= 0 {
		tt := at(to)
		v.ValidTo = &tt
	}
	return v
}

func equal(a, b table.Version) bool {
	return a.Key == b.Key && a.ValidFrom.Equal(b.ValidFrom) && a.Stream == b.Stream && a.Seq == b.Seq &&
		a.Deleted == b.Deleted && bytes.Equal(a.Value, b.Value) &&
		(a.ValidTo == nil) == (b.ValidTo == nil) && (a.ValidTo == nil || a.ValidTo.Equal(*b.ValidTo))
}

func show(v table.Version) string {
	to := "∞"
	if v.ValidTo != nil {
		to = v.ValidTo.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("{%s [%s, %s) %s/%d deleted=%v %s}", v.Key, v.ValidFrom.Format(time.RFC3339Nano), to, v.Stream, v.Seq, v.Deleted, v.Value)
}

func showAll(vs []table.Version) string {
	var b bytes.Buffer
	for _, v := range vs {
		b.WriteString("\n\t" + show(v))
	}
	return b.String()
}

func equalAll(a, b []table.Version) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// get checks that Get(key, when) returns want, or ErrNotFound if want is nil.
func (e *env) get(key string, when time.Time, want *table.Version) {
	e.t.Helper()
	got, err := e.s.Get(e.ctx, e.table, key, when)
	switch {
	case want == nil && !errors.Is(err, table.ErrNotFound):
		e.t.Errorf("Get(%q, %s) = %s, %v; want ErrNotFound", key, when.Format(time.RFC3339Nano), show(got), err)
	case want != nil && err != nil:
		e.t.Errorf("Get(%q, %s): %v; want %s", key, when.Format(time.RFC3339Nano), err, show(*want))
	case want != nil && !equal(got, *want):
		e.t.Errorf("Get(%q, %s) = %s; want %s", key, when.Format(time.RFC3339Nano), show(got), show(*want))
	}
}

func (e *env) history(key string, from, to time.Time, want ...table.Version) {
	e.t.Helper()
	got, err := e.s.History(e.ctx, e.table, key, from, to)
	if err != nil {
		e.t.Fatalf("History(%q, %s, %s): %v", key, from, to, err)
	}
	if !equalAll(got, want) {
		e.t.Errorf("History(%q, %s, %s) =%s\nwant%s", key, from.Format(time.RFC3339), to.Format(time.RFC3339), showAll(got), showAll(want))
	}
}
