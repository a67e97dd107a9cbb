package files

import (
	"strings"
	"testing"
	"time"
)

// TestStatusSaysWhyEventsWait: events gathered in the open object are
// held, not unread, and the status says when the object rolls and by what
// rule; once it is written nothing is held or waiting.
func TestStatusSaysWhyEventsWait(t *testing.T) {
	svc := newService(t)
	s, _ := start(t, svc, Config{URL: "file://" + t.TempDir(), MaxAge: time.Hour, MaxEvents: 10})
	now := time.Now()
	var raws [][]byte
	for i := range 7 {
		raws = append(raws, ev(i, now))
	}
	produce(t, svc, "p", raws...)
	waitFor(t, "7 events held", func() bool { st := s.Status(); return st.HeldEvents == 7 && st.LagEvents == 7 })
	st := s.Status()
	if st.UnreadEvents != 0 || st.Open == nil || st.NextRoll == nil || !st.NextRoll.Equal(st.Open.Since.Add(time.Hour)) {
		t.Fatalf("held: %+v", st)
	}
	if want := "rolls every 1h0m0s, at 64MiB or 10 events; next roll by " + clockText(*st.NextRoll, time.Now()); st.Waiting != want {
		t.Fatalf("waiting %q, want %q", st.Waiting, want)
	}
	if !strings.HasSuffix(st.Waiting, " UTC") || st.Roll != "every 1h0m0s, at 64MiB or 10 events" {
		t.Fatalf("waiting %q, roll %q", st.Waiting, st.Roll)
	}
	// Three more reach max_events: the object is written.
	raws = raws[:0]
	for i := 7; i < 10; i++ {
		raws = append(raws, ev(i, now))
	}
	produce(t, svc, "p", raws...)
	waitFor(t, "the object written", func() bool { st := s.Status(); return st.Position == 10 && st.LagEvents == 0 })
	if st := s.Status(); st.HeldEvents != 0 || st.Waiting != "" || st.NextRoll != nil || st.Objects != 1 {
		t.Fatalf("after the roll: %+v", st)
	}
}

func TestSizeText(t *testing.T) {
	for n, want := range map[int64]string{64 << 20: "64MiB", 6000: "6000B", 3 << 10: "3KiB", 1 << 30: "1GiB", 1536 << 10: "1536KiB"} {
		if got := sizeText(n); got != want {
			t.Errorf("sizeText(%d) = %q, want %q", n, got, want)
		}
	}
}
