package tabletest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/table"
)

// testProperty writes random versions (a few keys, few distinct times so
// that ties happen, tombstones, duplicates) shuffled into random batches,
// then checks Get, GetMany, History and Scan at random times against the model.
func testProperty(t *testing.T, open func(*testing.T) table.Store) {
	e := newEnv(t, open)
	r := rand.New(rand.NewPCG(20230729, 1))
	keys := []string{"a", "b", "c", "d", "e"}
	streams := []string{"s1", "s2"}
	used := map[writeID]bool{}
	var distinct []table.Write
	for len(distinct) < 300 {
		wr := table.Write{
			Key:       keys[r.IntN(len(keys))],
			ValidFrom: at(r.IntN(40)).Add(time.Duration(r.IntN(2)) * time.Microsecond),
			Stream:    streams[r.IntN(len(streams))],
			Seq:       uint64(r.IntN(100)),
		}
		id := writeID{wr.Key, wr.Stream, wr.Seq}
		if used[id] {
			continue
		}
		used[id] = true
		if r.IntN(10) == 0 {
			wr.Deleted = true
		} else {
			wr.Value = []byte(fmt.Sprintf(`{"n":%d}`, len(distinct)))
		}
		distinct = append(distinct, wr)
	}
	ws := append([]table.Write(nil), distinct...)
	for range 60 {
		ws = append(ws, distinct[r.IntN(len(distinct))])
	}
	r.Shuffle(len(ws), func(i, j int) { ws[i], ws[j] = ws[j], ws[i] })
	for rest := ws; len(rest) > 0; {
		n := min(1+r.IntN(40), len(rest))
		e.put(rest[:n]...)
		rest = rest[n:]
	}
	m := newModel(distinct)

	randomTime := func() time.Time {
		return at(r.IntN(46) - 3).Add(time.Duration(r.IntN(3)-1) * time.Microsecond)
	}
	for range 400 {
		key, when := append(keys, "zz")[r.IntN(len(keys)+1)], randomTime()
		if want, ok := m.get(key, when); ok {
			e.get(key, when, &want)
		} else {
			e.get(key, when, nil)
		}
	}
	for range 40 {
		batch := make([]string, r.IntN(12))
		for i := range batch {
			batch[i] = append(keys, "zz")[r.IntN(len(keys)+1)]
		}
		e.getManyModel(m, batch, randomTime())
	}
	for _, key := range keys {
		e.history(key, at(-10), at(100), m.history(key, at(-10), at(100))...)
		for range 10 {
			from, to := randomTime(), randomTime()
			e.history(key, from, to, m.history(key, from, to)...)
		}
	}
	for range 10 {
		when := randomTime()
		e.scanAll(when, "", 2, m.scan(when, ""))
	}
	if t.Failed() {
		t.Logf("writes (in the order written):%s", showWrites(ws))
	}
}

func showWrites(ws []table.Write) string {
	vs := make([]table.Version, len(ws))
	for i, w := range ws {
		vs[i] = version(w, -1)
	}
	return showAll(vs)
}
