package tabletest

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/table"
)

// model is the brute-force definition of a table: the writes stored, the
// first of each (key, stream, seq), in the order they were written.
type model []table.Write

type writeID struct {
	key, stream string
	seq         uint64
}

func newModel(ws []table.Write) model {
	seen := map[writeID]bool{}
	var m model
	for _, w := range ws {
		id := writeID{w.Key, w.Stream, w.Seq}
		if !seen[id] {
			seen[id] = true
			m = append(m, w)
		}
	}
	return m
}

// order is the order of the versions of a key.
func order(a, b table.Write) int {
	return cmp.Or(a.ValidFrom.Compare(b.ValidFrom), cmp.Compare(a.Seq, b.Seq), strings.Compare(a.Stream, b.Stream))
}

// versions returns every version of key in order, each valid until the next.
func (m model) versions(key string) []table.Version {
	var ws []table.Write
	for _, w := range m {
		if w.Key == key {
			ws = append(ws, w)
		}
	}
	slices.SortFunc(ws, order)
	vs := make([]table.Version, len(ws))
	for i, w := range ws {
		vs[i] = version(w, -1)
		vs[i].ValidFrom = vs[i].ValidFrom.Truncate(time.Microsecond)
		if i+1 < len(ws) {
			to := ws[i+1].ValidFrom.Truncate(time.Microsecond)
			vs[i].ValidTo = &to
		}
	}
	return vs
}

// get returns the value of key at t, false if there is none.
func (m model) get(key string, t time.Time) (table.Version, bool) {
	var found *table.Version
	vs := m.versions(key)
	for i := range vs {
		if !vs[i].ValidFrom.After(t) {
			found = &vs[i]
		}
	}
	if found == nil || found.Deleted {
		return table.Version{}, false
	}
	return *found, true
}

func (m model) history(key string, from, to time.Time) []table.Version {
	var out []table.Version
	for _, v := range m.versions(key) {
		end := v.ValidTo
		if v.ValidFrom.Before(to) && (end == nil || end.After(from) && end.After(v.ValidFrom)) {
			out = append(out, v)
		}
	}
	return out
}

// scan returns the value at t of every key with prefix, in key order.
func (m model) scan(t time.Time, prefix string) []table.Version {
	var keys []string
	for _, w := range m {
		if strings.HasPrefix(w.Key, prefix) {
			keys = append(keys, w.Key)
		}
	}
	slices.Sort(keys)
	var out []table.Version
	for _, k := range slices.Compact(keys) {
		if v, ok := m.get(k, t); ok {
			out = append(out, v)
		}
	}
	return out
}
