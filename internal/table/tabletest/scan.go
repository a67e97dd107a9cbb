package tabletest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/table"
)

// scanAll pages through Scan with limit and checks the pages against want.
func (e *env) scanAll(when time.Time, prefix string, limit int, want []table.Version) {
	e.t.Helper()
	var got []table.Version
	cursor := ""
	for page := 0; ; page++ {
		vs, next, err := e.s.Scan(e.ctx, e.table, when, prefix, limit, cursor)
		if err != nil {
			e.t.Fatalf("Scan(%s, %q, %d, %q): %v", when.Format(time.RFC3339), prefix, limit, cursor, err)
		}
		if max := limit; max > 0 && len(vs) > max || max == 0 && len(vs) > 100 {
			e.t.Fatalf("Scan(limit %d) returned %d versions", limit, len(vs))
		}
		if next != "" && (len(vs) == 0 || next != vs[len(vs)-1].Key) {
			e.t.Fatalf("Scan returned next %q after%s", next, showAll(vs))
		}
		if page > len(want) {
			e.t.Fatalf("Scan(limit %d) does not end", limit)
		}
		got = append(got, vs...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !equalAll(got, want) {
		e.t.Errorf("Scan(%s, %q, limit %d) =%s\nwant%s", when.Format(time.RFC3339), prefix, limit, showAll(got), showAll(want))
	}
}

func testScan(t *testing.T, open func(*testing.T) table.Store) {
	e := newEnv(t, open)
	var ws []table.Write
	for i := range 25 {
		k := fmt.Sprintf("k%02d", i)
		ws = append(ws, w(k, 10, 1, k+" v1"))
		if i%3 == 0 {
			ws = append(ws, w(k, 20, 2, k+" v2"))
		}
		if i%5 == 0 {
			ws = append(ws, tomb(k, 15, 3))
		}
	}
	for i := range 5 {
		ws = append(ws, w(fmt.Sprintf("n%02d", i), 30, 1, "new"), w(fmt.Sprintf("j%02d", i), 5, 1, "before"))
	}
	e.put(ws...)
	m := newModel(ws)
	for _, sec := range []int{0, 10, 17, 20, 30} {
		for _, prefix := range []string{"", "k", "k1", "n", "z"} {
			for _, limit := range []int{1, 5, 7, 25, 0} {
				e.scanAll(at(sec), prefix, limit, m.scan(at(sec), prefix))
			}
		}
	}
	// A cursor past the end, and one between keys.
	if vs, next, err := e.s.Scan(e.ctx, e.table, at(17), "k", 10, "k99"); err != nil || len(vs) != 0 || next != "" {
		t.Errorf("Scan after the last key = %d versions, %q, %v", len(vs), next, err)
	}
	vs, _, err := e.s.Scan(e.ctx, e.table, at(17), "k", 1, "k06a")
	if err != nil || len(vs) != 1 || vs[0].Key != "k07" {
		t.Errorf("Scan after k06a = %s, %v; want k07", showAll(vs), err)
	}
}

func testScanPrefix(t *testing.T, open func(*testing.T) table.Store) {
	e := newEnv(t, open)
	var ws []table.Write
	for i, k := range []string{"x%1", "x_2", "xa3", "x", "x\\", "y", "é1", "é2", "e1", "ü", "日本", "日", "Z"} {
		ws = append(ws, w(k, 10, uint64(i), k))
	}
	e.put(ws...)
	m := newModel(ws)
	for _, prefix := range []string{"", "x", "x%", "x_", "x\\", "é", "e", "日", "ü", "Z", "z"} {
		e.scanAll(at(10), prefix, 2, m.scan(at(10), prefix))
	}
}

// testConcurrentPuts writes overlapping batches from several goroutines.
func testConcurrentPuts(t *testing.T, open func(*testing.T) table.Store) {
	e := newEnv(t, open)
	var all []table.Write
	for i := range 100 {
		all = append(all, w(fmt.Sprintf("k%d", i%10), i, uint64(i), "v"))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		r := rand.New(rand.NewPCG(uint64(g), 0))
		wg.Go(func() {
			for range 5 {
				batch := make([]table.Write, 40)
				for i := range batch {
					batch[i] = all[r.IntN(len(all))]
				}
				if err := e.s.Put(e.ctx, e.table, batch); err != nil {
					t.Errorf("put: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	e.put(all...)
	m := newModel(all)
	for i := range 10 {
		k := fmt.Sprintf("k%d", i)
		e.history(k, at(0), at(1000), m.history(k, at(0), at(1000))...)
	}
}
