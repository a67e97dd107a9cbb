package tabletest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/table"
)

// getMany checks that GetMany(keys, when) answers, for each key in order,
// what Get answers.
func (e *env) getMany(keys []string, when time.Time) {
	e.t.Helper()
	got, err := e.s.GetMany(e.ctx, e.table, keys, when)
	if err != nil {
		e.t.Fatalf("GetMany(%d keys, %s): %v", len(keys), when.Format(time.RFC3339Nano), err)
	}
	if len(got) != len(keys) {
		e.t.Fatalf("GetMany(%d keys, %s): %d versions", len(keys), when.Format(time.RFC3339Nano), len(got))
	}
	for i, key := range keys {
		want, err := e.s.Get(e.ctx, e.table, key, when)
		switch {
		case errors.Is(err, table.ErrNotFound):
			if got[i].Found() || got[i].Key != key {
				e.t.Errorf("GetMany(%s)[%d] = %s; want %q not found", when.Format(time.RFC3339Nano), i, show(got[i]), key)
			}
		case err != nil:
			e.t.Fatalf("Get(%q, %s): %v", key, when.Format(time.RFC3339Nano), err)
		case !got[i].Found() || !equal(got[i], want):
			e.t.Errorf("GetMany(%s)[%d] = %s; want %s", when.Format(time.RFC3339Nano), i, show(got[i]), show(want))
		}
	}
}

func testGetMany(t *testing.T, open func(*testing.T) table.Store) {
	e := newEnv(t, open)
	e.put(w("a", 10, 1, "a10"), w("a", 20, 2, "a20"), w("a", 30, 3, "a30"),
		w("b", 10, 4, "b10"), tomb("b", 20, 5),
		w("c", 10, 6, "c-low"), w("c", 10, 7, "c-high"), // a tie: seq 7 wins
		w("d\u00e9", 15, 8, "d"))
	v20 := version(w("a", 20, 2, "a20"), 30)
	got, err := e.s.GetMany(e.ctx, e.table, []string{"zz", "a", "b", "a"}, at(25))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Found() || got[0].Key != "zz" || !equal(got[1], v20) || got[2].Found() || got[2].Key != "b" || !equal(got[3], v20) {
		t.Errorf("GetMany(zz, a, b, a at 25) =%s", showAll(got))
	}
	keys := []string{"a", "b", "c", "d\u00e9", "zz", "c", "a"}
	for _, sec := range []int{0, 10, 15, 20, 25, 30, 1000} {
		e.getMany(keys, at(sec))
		e.getMany(keys, at(sec).Add(-time.Microsecond))
	}
	if got, err := e.s.GetMany(e.ctx, e.table, nil, at(10)); err != nil || len(got) != 0 {
		t.Errorf("GetMany of no keys = %v, %v", got, err)
	}

	// More keys than one statement takes, and every size of statement.
	var ws []table.Write
	var many []string
	for i := range 1500 {
		key := fmt.Sprintf("k%04d", i)
		many = append(many, key)
		if i%3 != 0 {
			ws = append(ws, w(key, i%50, uint64(100+i), key))
		}
	}
	e.put(ws...)
	for _, n := range []int{1, 7, 8, 9, 33, 200, 513, 1024, 1025, 1500} {
		e.getMany(many[:n], at(25))
	}
	e.getMany(append(many, many...), at(40)) // each twice

	_, err = e.s.GetMany(e.ctx, e.table, []string{"a", "", "b"}, at(10))
	if !errors.Is(err, table.ErrInvalid) || !strings.Contains(err.Error(), "keys[1]") {
		t.Errorf("GetMany with an empty key = %v; want ErrInvalid naming keys[1]", err)
	}
	if _, err := e.s.GetMany(e.ctx, e.table, []string{"a\x00"}, at(10)); !errors.Is(err, table.ErrInvalid) {
		t.Errorf("GetMany with NUL in a key = %v; want ErrInvalid", err)
	}
	if _, err := e.s.GetMany(e.ctx, uniqueName(), []string{"a"}, at(10)); !errors.Is(err, table.ErrNoTable) {
		t.Errorf("GetMany from a missing table = %v; want ErrNoTable", err)
	}
	if _, err := e.s.GetMany(e.ctx, "No", []string{"a"}, at(10)); !errors.Is(err, table.ErrInvalid) {
		t.Errorf("GetMany from a bad table name = %v; want ErrInvalid", err)
	}
}

// getManyModel checks GetMany(keys, when) against the model.
func (e *env) getManyModel(m model, keys []string, when time.Time) {
	e.t.Helper()
	got, err := e.s.GetMany(e.ctx, e.table, keys, when)
	if err != nil || len(got) != len(keys) {
		e.t.Fatalf("GetMany(%q, %s) = %d versions, %v", keys, when.Format(time.RFC3339Nano), len(got), err)
	}
	for i, key := range keys {
		want, ok := m.get(key, when)
		if ok != got[i].Found() || got[i].Key != key || (ok && !equal(got[i], want)) {
			e.t.Errorf("GetMany(%q, %s)[%d] = %s; want %s (found: %v)", keys, when.Format(time.RFC3339Nano), i, show(got[i]), show(want), ok)
		}
	}
}
