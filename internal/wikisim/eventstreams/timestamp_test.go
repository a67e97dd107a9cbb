package eventstreams

import (
	"fmt"
	"testing"
	"time"
)

// With TimestampIDs, an event's id is its time + 1 ms, so events sharing a
// millisecond share an id, and resuming with it starts after that whole
// millisecond: the events of it that came after the resumed one are not
// sent again. That is the real feed's behaviour a client must cope with.
func TestTimestampIDs(t *testing.T) {
	evs := mustLoad(t, ndjsonFile) // 100 events
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func(n int64) time.Time { return base.Add(time.Duration(n/10) * time.Millisecond) } // 10 a millisecond
	s, ts := start(t, evs, Options{Clock: clock, TimestampIDs: true})
	c := dial(t, ts, "/v2/stream/recentchange")
	got := c.read(t, 25)
	c.close()
	for n, e := range got {
		want := fmt.Sprintf(`[{"topic":%q,"partition":0,"timestamp":%d},{"topic":%q,"partition":0,"offset":-1}]`,
			Topic, clock(int64(n)).UnixMilli()+1, OtherTopic)
		if e.ID != want {
			t.Fatalf("event %d: id %s, want %s", n, e.ID, want)
		}
	}
	// Resuming after event 12 (the third of the millisecond 10-19) starts at 20.
	c = dial(t, ts, "/v2/stream/recentchange", "Last-Event-ID", got[12].ID)
	c.read(t, 1)
	c.close()
	if r := lastRequest(t, s); r.Start != 20 {
		t.Fatalf("resume with %s started at %d, want 20", got[12].ID, r.Start)
	}
}
