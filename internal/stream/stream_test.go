package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine/jetstream"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newService(t *testing.T) *Service {
	t.Helper()
	ctx := context.Background()
	e, err := jetstream.Open(ctx, jetstream.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	cat, err := catalog.Open(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	s := New(e, cat, nil, nil)
	t.Cleanup(s.Close) // before the engine closes
	return s
}

const simple = `{"type":"object","required":["id","dt"],"properties":{"id":{"type":"string"},"dt":{"type":"string"},"n":{"type":"integer"}}}`

func create(t *testing.T, s *Service, name string) {
	t.Helper()
	b, err := schema.FromDocument("urn:"+name, []byte(simple))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(context.Background(), catalog.Stream{Name: name, ID: "/id", Time: "/dt"}, b); err != nil {
		t.Fatal(err)
	}
}

func ev(id string, t time.Time) []byte {
	return fmt.Appendf(nil, `{"id":%q,"dt":%q}`, id, t.Format(time.RFC3339Nano))
}

func readAll(t *testing.T, s *Service, name string, r Range) []event.Event {
	t.Helper()
	c, err := s.Open(context.Background(), name, r)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []event.Event
	for {
		e, err := c.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
}

// TestSeekTimeMatchesBruteForce writes events whose times go back and
// forth, then checks every seek against a scan of the running maximum.
func TestSeekTimeMatchesBruteForce(t *testing.T) {
	s := newService(t)
	create(t, s, "seek")
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var times []time.Time
	var batch [][]byte
	for i := range 3000 {
		// mostly forward, sometimes late by up to a minute
		tm := base.Add(time.Duration(i)*time.Second - time.Duration(rng.IntN(60))*time.Second*time.Duration(rng.IntN(2)))
		times = append(times, tm)
		batch = append(batch, ev(fmt.Sprint(i), tm))
		if len(batch) == 250 {
			if _, err := s.Produce(context.Background(), "seek", batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}

	for range 300 {
		target := base.Add(time.Duration(rng.IntN(3100)-50) * time.Second).Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
		want := uint64(len(times) + 1)
		var runMax time.Time
		for i, tm := range times {
			if tm.After(runMax) {
				runMax = tm
			}
			if !runMax.Before(target) {
				want = uint64(i + 1)
				break
			}
		}
		got, err := s.seekTime(context.Background(), "seek", time.Time{}, target)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("seek %s = %d, want %d", target, got, want)
		}
	}
}

func TestRanges(t *testing.T) {
	s := newService(t)
	create(t, s, "ranges")
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var batch [][]byte
	for i := range 10 {
		batch = append(batch, ev(fmt.Sprint(i), base.Add(time.Duration(i)*time.Minute)))
	}
	if _, err := s.Produce(context.Background(), "ranges", batch); err != nil {
		t.Fatal(err)
	}
	pos := func(s string) event.Position {
		p, err := event.ParsePosition(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	until := func(s string) *event.Position { p := pos(s); return &p }
	cases := []struct {
		r        Range
		first, n uint64
	}{
		{Range{From: pos("earliest")}, 1, 10},
		{Range{From: pos("latest")}, 0, 0},
		{Range{From: pos("4")}, 4, 7},
		{Range{From: pos("4"), Until: until("6")}, 4, 2},
		{Range{From: pos("2024-01-01T00:03:00Z")}, 4, 7},
		{Range{From: pos("2024-01-01T00:02:30Z")}, 4, 7},
		{Range{From: pos("1704067380000")}, 4, 7}, // unix ms of 00:03
		{Range{From: pos("earliest"), Until: until("2024-01-01T00:02:00Z")}, 1, 2},
		{Range{From: pos("2024-01-01T00:02:00Z"), Until: until("2024-01-01T00:02:00Z")}, 0, 0},
		{Range{From: pos("2030-01-01T00:00:00Z")}, 0, 0},
		{Range{From: pos("99")}, 0, 0},
	}
	for _, c := range cases {
		got := readAll(t, s, "ranges", c.r)
		if uint64(len(got)) != c.n || (c.n > 0 && got[0].Seq != c.first) {
			t.Errorf("%+v: got %d events from %v, want %d from %d", c.r, len(got), got, c.n, c.first)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Seq != got[i-1].Seq+1 {
				t.Errorf("%+v: gap at %d", c.r, got[i].Seq)
			}
		}
	}
	e := readAll(t, s, "ranges", Range{From: pos("3"), Until: until("4")})[0]
	if e.ID != "2" || !e.Time.Equal(base.Add(2*time.Minute)) || string(e.Data) != string(ev("2", base.Add(2*time.Minute))) {
		t.Fatalf("event 3 = %+v", e)
	}
}

func TestFollowDeliversNewEvents(t *testing.T) {
	s := newService(t)
	create(t, s, "follow")
	c, err := s.Open(context.Background(), "follow", Range{From: event.Position{Kind: event.Latest}, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		time.Sleep(50 * time.Millisecond)
		_, _ = s.Produce(context.Background(), "follow", [][]byte{ev("a", time.Now())})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := c.Next(ctx)
	if err != nil || e.Seq != 1 || e.ID != "a" {
		t.Fatalf("follow: %+v %v", e, err)
	}
}

func TestProduceReportsEachInvalidEvent(t *testing.T) {
	s := newService(t)
	create(t, s, "invalid")
	now := time.Now()
	res, err := s.Produce(context.Background(), "invalid", [][]byte{
		ev("ok", now),
		[]byte(`{"id":"x","dt":"2024-01-01T00:00:00Z","n":"one"}`),
		[]byte(`{"id":`),
		[]byte(`[1]`),
		[]byte(`{"id":"y","dt":"last tuesday"}`),
		[]byte(`{"id":{"a":1},"dt":"2024-01-01T00:00:00Z"}`),
		ev("ok", now),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 2 || res.Duplicates != 1 || len(res.Invalid) != 5 {
		t.Fatalf("result %+v", res)
	}
	want := []struct {
		index            int
		pointer, keyword string
	}{{1, "/n", "type"}, {2, "/id", RuleJSON}, {3, "", RuleObject}, {4, "/dt", RuleTime}, {5, "/id", "type"}}
	for i, w := range want {
		got := res.Invalid[i]
		if got.Index != w.index || got.Errors[0].Pointer != w.pointer || got.Errors[0].Keyword != w.keyword {
			t.Errorf("invalid[%d] = %+v, want index %d %s %s", i, got, w.index, w.pointer, w.keyword)
		}
	}
	if res.Events[1].Index != 6 || !res.Events[1].Duplicate || res.Events[1].Seq != 1 {
		t.Fatalf("duplicate: %+v", res.Events)
	}
}

// TestSeekAfterTheStreamGrew: a seek's cached view of the stream (its
// extent and probes) never hides events written since, nor survives the
// stream being made again.
func TestSeekAfterTheStreamGrew(t *testing.T) {
	s := newService(t)
	create(t, s, "grow")
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	produce := func(from, to int) {
		t.Helper()
		var batch [][]byte
		for i := from; i < to; i++ {
			batch = append(batch, ev(fmt.Sprint(i), at(i)))
		}
		if _, err := s.Produce(context.Background(), "grow", batch); err != nil {
			t.Fatal(err)
		}
	}
	seek := func(i int) uint64 {
		t.Helper()
		seq, err := s.Resolve(context.Background(), "grow", event.Position{Kind: event.Time, Time: at(i)})
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	produce(0, 10)
	if got := seek(5); got != 6 {
		t.Fatalf("seek 5 = %d, want 6", got)
	}
	if got := seek(50); got != 11 {
		t.Fatalf("seek past the end = %d, want 11", got)
	}
	produce(10, 100)
	for _, i := range []int{3, 10, 15, 99} {
		if got := seek(i); got != uint64(i+1) {
			t.Fatalf("after growing, seek %d = %d, want %d", i, got, i+1)
		}
	}
	if err := s.Delete(context.Background(), "grow"); err != nil {
		t.Fatal(err)
	}
	create(t, s, "grow")
	base = base.Add(time.Hour)
	produce(0, 5)
	if got := seek(2); got != 3 {
		t.Fatalf("made again, seek 2 = %d, want 3", got)
	}
}
