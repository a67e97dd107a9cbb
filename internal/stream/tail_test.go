package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/engine/jetstream"
	"github.com/sluice-dev/sluice/internal/event"
)

func consumers(t *testing.T, s *Service, name string) int {
	t.Helper()
	n, err := s.eng.(*jetstream.Engine).ConsumerCount(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func follow(t *testing.T, s *Service, name string, from event.Position) *Cursor {
	t.Helper()
	c, err := s.Open(context.Background(), name, Range{From: from, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func next(t *testing.T, c *Cursor) event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := c.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func produceN(t *testing.T, s *Service, name string, first, n int, pad int) {
	t.Helper()
	var batch [][]byte
	for i := first; i < first+n; i++ {
		batch = append(batch, fmt.Appendf(nil, `{"id":"%d","dt":%q,"pad":%q}`, i, time.Now().UTC().Format(time.RFC3339Nano), strings.Repeat("x", pad)))
	}
	if res, err := s.Produce(context.Background(), name, batch); err != nil || res.Accepted != n {
		t.Fatalf("produce: %+v %v", res, err)
	}
}

// TestSubscribersShareOneTail: however many follow a stream, the node
// holds one consumer on it, and none once they are gone.
func TestSubscribersShareOneTail(t *testing.T) {
	s := newService(t)
	create(t, s, "shared")
	var cs []*Cursor
	for range 20 {
		cs = append(cs, follow(t, s, "shared", event.Position{Kind: event.Latest}))
	}
	produceN(t, s, "shared", 0, 10, 0)
	for i, c := range cs {
		for want := uint64(1); want <= 10; want++ {
			if e := next(t, c); e.Seq != want || e.ID != fmt.Sprint(want-1) {
				t.Fatalf("subscriber %d: got %d (%s), want %d", i, e.Seq, e.ID, want)
			}
		}
	}
	if n := consumers(t, s, "shared"); n != 1 {
		t.Fatalf("%d consumers for 20 subscribers, want 1", n)
	}
	for _, c := range cs {
		c.Close()
	}
	s.Close()
	if n := consumers(t, s, "shared"); n != 0 {
		t.Fatalf("%d consumers after the subscribers left and the service closed", n)
	}
	if _, err := s.Open(context.Background(), "shared", Range{From: event.Position{Kind: event.Latest}, Follow: true}); err == nil {
		t.Fatal("subscribed after Close")
	}
}

// TestFollowCatchesUpThenJoins: a subscriber from far back reads the
// stream, then the tail, without a gap or a repeat, while events arrive.
func TestFollowCatchesUpThenJoins(t *testing.T) {
	s := newService(t)
	s.ReadLimits.TailBytes, s.ReadLimits.MaxBehind = 64<<10, 64<<10
	create(t, s, "catchup")
	first := follow(t, s, "catchup", event.Position{Kind: event.Latest}) // starts the tail
	produceN(t, s, "catchup", 0, 1000, 100)                              // more than the tail holds
	waitTail(t, first.tail, 1000)
	c := follow(t, s, "catchup", event.Position{Kind: event.Sequence, Seq: 1})
	for want := uint64(1); want <= 1510; want++ {
		if e := next(t, c); e.Seq != want {
			t.Fatalf("got %d, want %d", e.Seq, want)
		}
		if want >= 700 && want < 1200 && want%20 == 0 {
			produceN(t, s, "catchup", int(want)+300, 20, 100)
		}
		if want == 1500 {
			produceN(t, s, "catchup", 1500, 10, 100) // caught up: these come from the tail
		}
	}
	if !c.inTail {
		t.Fatalf("the subscriber never joined the tail (next %d, floor %d)", c.next, c.tail.floorNow())
	}
}

// waitTail waits until the tail has taken in the event at seq.
func waitTail(t *testing.T, tl *tail, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for tl.newest() < seq {
		if time.Now().After(deadline) {
			t.Fatalf("the tail has %d after 10s, want %d", tl.newest(), seq)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSlowSubscriberDropped: a subscriber that lets the tail run past it
// is dropped, and one resuming after its last event misses nothing.
func TestSlowSubscriberDropped(t *testing.T) {
	s := newService(t)
	s.ReadLimits.TailBytes, s.ReadLimits.MaxBehind = 64<<10, 32<<10
	create(t, s, "slow")
	c := follow(t, s, "slow", event.Position{Kind: event.Latest})
	produceN(t, s, "slow", 0, 1, 0)
	last := next(t, c).Seq
	produceN(t, s, "slow", 1, 300, 1000) // 300 KB: far past what it may lag
	waitTail(t, c.tail, 301)
	var err error
	for err == nil {
		var e event.Event
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		e, err = c.Next(ctx)
		cancel()
		if err == nil {
			if e.Seq != last+1 {
				t.Fatalf("got %d after %d", e.Seq, last)
			}
			last = e.Seq
		}
	}
	if !errors.Is(err, ErrBehind) {
		t.Fatalf("a subscriber far behind got %v (last %d), want ErrBehind", err, last)
	}
	if last > 200 {
		t.Fatalf("read up to %d before it was dropped: the bound did not hold", last)
	}
	again := follow(t, s, "slow", event.Position{Kind: event.Sequence, Seq: last + 1})
	for want := last + 1; want <= 301; want++ {
		if e := next(t, again); e.Seq != want {
			t.Fatalf("resumed: got %d, want %d", e.Seq, want)
		}
	}
}

// TestDeletedStreamEndsItsTail: deleting a stream ends its subscribers,
// and a stream made again under the name is followed from its own events,
// not from the deleted stream's still in the ring.
func TestDeletedStreamEndsItsTail(t *testing.T) {
	s := newService(t)
	create(t, s, "again")
	old := follow(t, s, "again", event.Position{Kind: event.Latest})
	produceN(t, s, "again", 0, 50, 0)
	waitTail(t, old.tail, 50)
	if err := s.Delete(context.Background(), "again"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for { // the old subscriber reads what it had, then ends
		if _, err := old.Next(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("the subscriber of the deleted stream did not end")
			}
			break
		}
	}
	create(t, s, "again")
	c := follow(t, s, "again", event.Position{Kind: event.Earliest})
	produceN(t, s, "again", 1000, 60, 0)
	for want := uint64(1); want <= 60; want++ {
		if e := next(t, c); e.Seq != want || e.ID != fmt.Sprint(999+want) {
			t.Fatalf("the new stream's subscriber got %d (%s), want %d (%d)", e.Seq, e.ID, want, 999+want)
		}
	}
}
