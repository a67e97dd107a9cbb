package stream

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine/jetstream"
	"github.com/sluice-dev/sluice/internal/event"
)

// listening is a service whose engine takes NATS clients, and a client:
// what a user with nats.listen set can do.
func listening(t *testing.T) (*Service, *nats.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx := context.Background()
	e, err := jetstream.Open(ctx, jetstream.Options{DataDir: t.TempDir(), Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	cat, err := catalog.Open(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	s := New(e, cat, nil, nil)
	t.Cleanup(s.Close)
	nc, err := nats.Connect(e.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return s, nc
}

// publishRaw publishes straight to stream name's subject, past the schema.
func publishRaw(t *testing.T, nc *nats.Conn, name string, h nats.Header, data string) {
	t.Helper()
	m := nats.NewMsg("sluice.s." + name + ".E")
	m.Header, m.Data = h, []byte(data)
	if _, err := nc.RequestMsg(m, 5*time.Second); err != nil { // the stream's ack: stored
		t.Fatal(err)
	}
}

// foreignKinds are what someone with the NATS port can put in a stream.
var foreignKinds = []struct {
	h    nats.Header
	data string
}{
	{nil, "not json at all"},
	{nil, ""},
	{nil, `{"id":"x","dt":"2024-01-01T00:00:00Z"}`},
	{nats.Header{"Sluice-Id": {"x"}, "Sluice-Time": {"1"}, "Sluice-Mark": {"soon"}}, `{"id":"x"}`},
	{nats.Header{"Sluice-Id": {"x"}, "Sluice-Time": {"1"}, "Sluice-Mark": {"1"}}, "{}\n{\"id\":\"injected\"}"},
}

// TestReadsOverForeignMessages: readers skip what sluice did not write
// (or flag it, when asked), and time seeks step over it, even a long run.
func TestReadsOverForeignMessages(t *testing.T) {
	s, nc := listening(t)
	create(t, s, "mixed")
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	foreign := 0
	for i := range 40 {
		if _, err := s.Produce(context.Background(), "mixed", [][]byte{ev(fmt.Sprint(i), base.Add(time.Duration(i)*time.Minute))}); err != nil {
			t.Fatal(err)
		}
		runs := i % len(foreignKinds)
		if i == 20 {
			runs = 150 // longer than a probe's first batch
		}
		for j := range runs {
			k := foreignKinds[j%len(foreignKinds)]
			publishRaw(t, nc, "mixed", k.h, k.data)
			foreign++
		}
	}
	c, err := s.Open(context.Background(), "mixed", Range{From: event.Position{Kind: event.Earliest}})
	if err != nil {
		t.Fatal(err)
	}
	var got []event.Event
	for {
		e, err := c.Next(context.Background())
		if err != nil {
			break
		}
		got = append(got, e)
	}
	c.Close()
	if len(got) != 40 || c.Skipped() != foreign {
		t.Fatalf("read %d events, skipped %d; want 40 and %d", len(got), c.Skipped(), foreign)
	}
	for i, e := range got {
		if e.ID != fmt.Sprint(i) || e.Foreign {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	all := readAll(t, s, "mixed", Range{From: event.Position{Kind: event.Earliest}, Foreign: true})
	flagged := 0
	for _, e := range all {
		if e.Foreign {
			flagged++
		}
	}
	if len(all) != 40+foreign || flagged != foreign {
		t.Fatalf("with Foreign: %d messages, %d flagged; want %d and %d", len(all), flagged, 40+foreign, foreign)
	}
	for i := range 40 {
		for _, off := range []time.Duration{0, -time.Second} {
			at := base.Add(time.Duration(i)*time.Minute + off)
			evs := readAll(t, s, "mixed", Range{From: event.Position{Kind: event.Time, Time: at}})
			if len(evs) != 40-i || evs[0].ID != fmt.Sprint(i) {
				t.Fatalf("since %s: %d events from %+v, want %d from %d", at, len(evs), evs[0], 40-i, i)
			}
		}
	}
	if _, err := s.Info(context.Background(), "mixed"); err != nil {
		t.Fatalf("info over foreign messages: %v", err)
	}
	evs, ok, err := s.Window(context.Background(), "mixed", 1, 10, 1<<20)
	if err != nil || !ok || len(evs) != 9 || evs[1].Foreign || !evs[2].Foreign {
		t.Fatalf("window: %d events %v %v", len(evs), ok, err)
	}
}

// TestFollowSkipsForeign: live subscribers never see foreign messages.
func TestFollowSkipsForeign(t *testing.T) {
	s, nc := listening(t)
	create(t, s, "live")
	c := follow(t, s, "live", event.Position{Kind: event.Latest})
	for _, k := range foreignKinds {
		publishRaw(t, nc, "live", k.h, k.data)
	}
	if _, err := s.Produce(context.Background(), "live", [][]byte{ev("own", time.Now())}); err != nil {
		t.Fatal(err)
	}
	if e := next(t, c); e.ID != "own" || e.Seq != uint64(len(foreignKinds)+1) || e.Foreign {
		t.Fatalf("live: %+v", e)
	}
	if c.Skipped() != len(foreignKinds) {
		t.Fatalf("skipped %d, want %d", c.Skipped(), len(foreignKinds))
	}
}
