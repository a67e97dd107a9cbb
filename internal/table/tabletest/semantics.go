package tabletest

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/table"
)

func testNames(t *testing.T, open func(*testing.T) table.Store) {
	e := newEnv(t, open)
	for _, name := range []string{"", "A", "a-b", "a b", "t;drop", strings.Repeat("a", table.MaxNameLen+1)} {
		if err := e.s.Create(e.ctx, name); !errors.Is(err, table.ErrInvalid) {
			t.Errorf("Create(%q) = %v; want ErrInvalid", name, err)
		}
	}
	if err := e.s.Create(e.ctx, e.table); err != nil {
		t.Errorf("Create of an existing table: %v", err)
	}
	long := uniqueName()
	long += strings.Repeat("x", table.MaxNameLen-len(long))
	if err := e.s.Create(e.ctx, long); err != nil {
		t.Fatalf("Create(%q): %v", long, err)
	}
	e.putTo(long, nil)
	for range 2 {
		if err := e.s.Drop(e.ctx, long); err != nil {
			t.Fatalf("Drop(%q): %v", long, err)
		}
	}
	e.putTo(long, table.ErrNoTable)
	missing := uniqueName()
	e.putTo(missing, table.ErrNoTable)
	if _, err := e.s.Get(e.ctx, missing, "a", at(0)); !errors.Is(err, table.ErrNoTable) {
		t.Errorf("Get from a missing table = %v; want ErrNoTable", err)
	}
	if _, err := e.s.History(e.ctx, missing, "a", at(0), at(1)); !errors.Is(err, table.ErrNoTable) {
		t.Errorf("History of a missing table = %v; want ErrNoTable", err)
	}
	if _, _, err := e.s.Scan(e.ctx, missing, at(0), "", 10, ""); !errors.Is(err, table.ErrNoTable) {
		t.Errorf("Scan of a missing table = %v; want ErrNoTable", err)
	}
}

func (e *env) putTo(name string, want error) {
	e.t.Helper()
	err := e.s.Put(e.ctx, name, []table.Write{w("a", 1, 1, "v")})
	if !errors.Is(err, want) {
		e.t.Errorf("Put into %q = %v; want %v", name, err, want)
	}
}

func testInvalidWrites(t *testing.T, open func(*testing.T) table.Store) {
	e := newEnv(t, open)
	good, base := w("a", 1, 1, "v"), w("a", 1, 2, "v")
	for _, tc := range []struct {
		name string
		edit func(*table.Write)
	}{
		{"empty key", func(w *table.Write) { w.Key = "" }},
		{"NUL in key", func(w *table.Write) { w.Key = "a\x00" }},
		{"key not UTF-8", func(w *table.Write) { w.Key = "\xff" }},
		{"zero time", func(w *table.Write) { w.ValidFrom = time.Time{} }},
		{"value not JSON", func(w *table.Write) { w.Value = []byte("{") }},
		{"seq over int64", func(w *table.Write) { w.Seq = math.MaxInt64 + 1 }},
	} {
		bad := base
		tc.edit(&bad)
		if err := e.s.Put(e.ctx, e.table, []table.Write{good, bad}); !errors.Is(err, table.ErrInvalid) {
			t.Errorf("%s: Put = %v; want ErrInvalid", tc.name, err)
		}
	}
	e.get("a", at(1), nil) // no write of a failed batch is stored
	if err := e.s.Put(e.ctx, e.table, nil); err != nil {
		t.Errorf("Put of no writes: %v", err)
	}
	if _, err := e.s.Get(e.ctx, e.table, "", at(1)); !errors.Is(err, table.ErrInvalid) {
		t.Errorf("Get of an empty key = %v; want ErrInvalid", err)
	}
	if _, _, err := e.s.Scan(e.ctx, e.table, at(1), "", -1, ""); !errors.Is(err, table.ErrInvalid) {
		t.Errorf("Scan with limit -1 = %v; want ErrInvalid", err)
	}
}

// testGetAnyWriteOrder writes the same versions in several orders and
// batchings: the answers never change.
func testGetAnyWriteOrder(t *testing.T, open func(*testing.T) table.Store) {
	w10, w20, w30 := w("a", 10, 1, "one"), w("a", 20, 2, "two"), w("a", 30, 3, "three")
	w10hi := w("a", 10, 9, "one")
	for _, tc := range []struct {
		name    string
		w10     table.Write
		batches [][]table.Write
	}{
		{"in order", w10, [][]table.Write{{w10, w20, w30}}},
		{"reversed", w10, [][]table.Write{{w30, w20, w10}}},
		{"reversed, one per put", w10, [][]table.Write{{w30}, {w20}, {w10}}},
		{"late old event", w10, [][]table.Write{{w10, w30}, {w20}}},
		{"shuffled with copies", w10, [][]table.Write{{w20}, {w30, w10, w20}, {w20}}},
		{"older time, higher seq", w10hi, [][]table.Write{{w10hi}, {w30, w20}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, open)
			for _, b := range tc.batches {
				e.put(b...)
			}
			v10, v20, v30 := version(tc.w10, 20), version(w20, 30), version(w30, -1)
			e.get("a", at(9), nil)
			e.get("a", at(10), &v10) // valid_from is inclusive
			e.get("a", at(20).Add(-time.Microsecond), &v10)
			e.get("a", at(20), &v20) // valid_to is exclusive
			e.get("a", at(29), &v20)
			e.get("a", at(30), &v30)
			e.get("a", at(1e6), &v30)
			e.get("b", at(20), nil)
		})
	}
}

func testDuplicates(t *testing.T, open func(*testing.T) table.Store) {
	e := newEnv(t, open)
	one := w("a", 10, 1, "one")
	e.put(one, one)
	e.put(one)
	other := one
	other.Value = []byte(`"other"`) // same (key, stream, seq): the first write wins
	e.put(other)
	e.history("a", at(0), at(100), version(one, -1))
	// The same seq in another stream, or for another key, is another write.
	s2 := one
	s2.Stream = "s2"
	b := one
	b.Key = "b"
	e.put(s2, b)
	e.history("a", at(0), at(100), version(s2, -1)) // one is shadowed by s2 ("s2" > "s")
	e.history("b", at(0), at(100), version(b, -1))
}

func testTies(t *testing.T, open func(*testing.T) table.Store) {
	e := newEnv(t, open)
	hi, lo, later := w("a", 10, 7, "seven"), w("a", 10, 5, "five"), w("a", 20, 1, "later, lower seq")
	e.put(hi)
	e.put(lo, later)
	vhi := version(hi, 20)
	e.get("a", at(10), &vhi)
	e.get("a", at(15), &vhi)
	vlater := version(later, -1)
	e.get("a", at(20), &vlater) // time before seq
	// lo was valid for no time at all: History leaves it out.
	e.history("a", at(0), at(100), vhi, vlater)

	// The same time and seq in two streams: the greater stream (bytewise) wins.
	s, t2 := w("b", 10, 1, "s"), w("b", 10, 1, "t")
	t2.Stream = "t"
	e.put(t2)
	e.put(s)
	vt := version(t2, -1)
	e.get("b", at(10), &vt)
	e.history("b", at(0), at(100), vt)
	e.scanAll(at(10), "b", 1, []table.Version{vt})
}

func testTombstones(t *testing.T, open func(*testing.T) table.Store) {
	for _, tc := range []struct {
		name string
		del  table.Write
	}{
		{"deleted", tomb("a", 20, 2)},
		{"deleted with a value", table.Write{Key: "a", ValidFrom: at(20), Seq: 2, Stream: "s", Deleted: true, Value: []byte(`"x"`)}},
		{"no value", table.Write{Key: "a", ValidFrom: at(20), Seq: 2, Stream: "s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, open)
			one, three := w("a", 10, 1, "one"), w("a", 30, 3, "three")
			e.put(three, tc.del, one)
			v1, vdel, v3 := version(one, 20), version(tc.del, 30), version(three, -1)
			if vdel.Value != nil || !vdel.Deleted {
				t.Fatalf("expected tombstone: %s", show(vdel))
			}
			e.get("a", at(19), &v1)
			e.get("a", at(20), nil)
			e.get("a", at(25), nil)
			e.get("a", at(30), &v3)
			e.history("a", at(0), at(100), v1, vdel, v3)
			e.history("a", at(21), at(22), vdel)
		})
	}
	t.Run("deleted for good", func(t *testing.T) {
		e := newEnv(t, open)
		e.put(w("a", 10, 1, "one"), tomb("a", 20, 2))
		e.get("a", at(1e6), nil)
		e.scanAll(at(1e6), "", 10, nil)
	})
}

func testHistory(t *testing.T, open func(*testing.T) table.Store) {
	e := newEnv(t, open)
	w10, w20, w30 := w("a", 10, 1, "one"), w("a", 20, 2, "two"), w("a", 30, 3, "three")
	e.put(w20, w30, w10)
	v10, v20, v30 := version(w10, 20), version(w20, 30), version(w30, -1)
	for _, tc := range []struct {
		from, to int
		want     []table.Version
	}{
		{0, 10, nil}, // to is exclusive
		{0, 11, []table.Version{v10}},
		{10, 20, []table.Version{v10}},
		{19, 21, []table.Version{v10, v20}},
		{20, 20, nil},
		{25, 15, nil},
		{20, 30, []table.Version{v20}},
		{35, 100, []table.Version{v30}},
		{5, 1000, []table.Version{v10, v20, v30}},
	} {
		e.history("a", at(tc.from), at(tc.to), tc.want...)
	}
	e.history("b", at(0), at(1000))
	got, err := e.s.History(e.ctx, e.table, "a", at(0), at(1000))
	if err == nil && !slices.IsSortedFunc(got, func(a, b table.Version) int { return a.ValidFrom.Compare(b.ValidFrom) }) {
		t.Errorf("History not in order:%s", showAll(got))
	}
}

// testCanceled checks that a lookup with a context already canceled fails.
func testCanceled(t *testing.T, open func(*testing.T) table.Store) {
	e := newEnv(t, open)
	e.put(w("a", 10, 1, "one"))
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if v, err := e.s.Get(ctx, e.table, "a", at(20)); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context = %s, %v; want context.Canceled", show(v), err)
	}
}
