package eventstreams

import (
	"reflect"
	"testing"
	"time"
)

// With Clock, every event (loop 0 included) carries the clock's time, loops
// still get fresh ids, an event goes out no earlier than its time, and
// since= seeks by the clock.
func TestClock(t *testing.T) {
	evs := mustLoad(t, ndjsonFile) // 100 events
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	future := time.Now().Add(400 * time.Millisecond)
	clock := func(n int64) time.Time {
		if n < 150 {
			return base.Add(time.Duration(n) * time.Second) // in the past: at once
		}
		return future.Add(time.Duration(n-150) * time.Millisecond)
	}
	_, ts := start(t, evs, Options{Loop: true, Clock: clock, Rate: 0.001})
	c := dial(t, ts, "/v2/stream/recentchange")
	began := time.Now()
	got := c.read(t, 150)
	if d := time.Since(began); d > 300*time.Millisecond {
		t.Fatalf("150 past events took %v", d)
	}
	for n, e := range got {
		i, k := n%100, n/100
		m := decode(t, e.Data)
		want := clock(int64(n)).UTC()
		if m.Meta.DT != want.Format(time.RFC3339Nano) || m.Timestamp != want.Unix() {
			t.Fatalf("event %d: dt %s timestamp %d, want %s", n, m.Meta.DT, m.Timestamp, want)
		}
		if orig := decode(t, evs[i]).Meta.ID; (k == 0) != (m.Meta.ID == orig) {
			t.Fatalf("event %d (loop %d): meta.id %s, recorded %s", n, k, m.Meta.ID, orig)
		}
		if !reflect.DeepEqual(withoutLoopFields(t, e.Data), withoutLoopFields(t, evs[i])) {
			t.Fatalf("event %d: a field other than meta.dt, meta.id, timestamp changed", n)
		}
	}
	c.next(t)
	if time.Now().Before(future) {
		t.Fatalf("event 150 arrived before its time")
	}
	c.close()

	c = dial(t, ts, "/v2/stream/recentchange?since="+base.Add(42*time.Second+time.Millisecond).Format(time.RFC3339Nano))
	if e := c.next(t); e.ID != idFor(43) {
		t.Fatalf("since: started at %s, want offset 43", e.ID)
	}
}
