// Package enginetest is the conformance suite every engine.Engine passes.
package enginetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
)

var unique atomic.Int64

// name gives a stream name no earlier test used: JetStream remembers
// de-duplication ids even across a purge.
func name(prefix string) string {
	return fmt.Sprintf("%s.%d-%d", prefix, time.Now().UnixNano(), unique.Add(1))
}

// Run runs the suite against e, which it shares between subtests.
func Run(t *testing.T, e engine.Engine) {
	t.Run("EnsureStreamIsIdempotent", func(t *testing.T) { ensureIdempotent(t, e) })
	t.Run("AppendDeduplicates", func(t *testing.T) { appendDedupe(t, e) })
	t.Run("IDsAreExact", func(t *testing.T) { exactIDs(t, e) })
	t.Run("GetAtOrAfter", func(t *testing.T) { getAtOrAfter(t, e) })
	t.Run("RangeBatches", func(t *testing.T) { rangeBatches(t, e) })
	t.Run("Follow", func(t *testing.T) { follow(t, e) })
	t.Run("Scan", func(t *testing.T) { scan(t, e) })
	t.Run("DeleteStream", func(t *testing.T) { deleteStream(t, e) })
	t.Run("KV", func(t *testing.T) { kv(t, e) })
	t.Run("Origins", func(t *testing.T) { origins(t, e) })
	t.Run("NestedNames", func(t *testing.T) { nestedNames(t, e) })
	if x, ok := e.(engine.ExpiringKVs); ok {
		t.Run("ExpiringKV", func(t *testing.T) { expiring(t, x) })
	}
	if cs, ok := e.(engine.Consumers); ok {
		t.Run("Consumers", func(t *testing.T) { consumers(t, e, cs) })
		t.Run("ConsumersAckAll", func(t *testing.T) { consumersAckAll(t, e, cs) })
	}
}

func consumers(t *testing.T, e engine.Engine, cs engine.Consumers) {
	n := name("consume")
	mustEnsure(t, e, n)
	if _, err := engine.Append(ctx(t), e, n, msgs("1", "2", "3", "4", "5")); err != nil {
		t.Fatal(err)
	}
	cfg := engine.ConsumerConfig{Stream: n, Name: "p1", StartSeq: 2, MaxAckPending: 10, AckWait: 300 * time.Millisecond}
	c, err := cs.EnsureConsumer(ctx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Before its first acknowledgement, a consumer's floor is just before
	// its start, not 0 (a JetStream R3 consumer reports 0 then): a run
	// that takes over from it starts there, not at the stream's first event.
	if st, err := c.State(ctx(t)); err != nil || st.AckFloor != 1 || st.InFlight != 0 {
		t.Fatalf("state of a new consumer at 2: %+v %v", st, err)
	}
	got, err := c.Fetch(ctx(t), 2, time.Second)
	if err != nil || len(got) != 2 || got[0].Seq != 2 || got[1].Seq != 3 || got[0].Attempt != 1 || got[0].Header["Sluice-Test"] != "h-2" {
		t.Fatalf("fetch: %+v %v", got, err)
	}
	if st, err := c.State(ctx(t)); err != nil || st.AckFloor != 1 || st.InFlight != 2 {
		t.Fatalf("state with 2 and 3 delivered, none acknowledged: %+v %v", st, err)
	}
	if err := got[0].Ack(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// Seq 3 was not acknowledged: after AckWait it comes again, as attempt 2.
	time.Sleep(400 * time.Millisecond)
	again, err := c.Fetch(ctx(t), 10, time.Second)
	if err != nil || len(again) == 0 || again[0].Seq != 3 || again[0].Attempt != 2 {
		t.Fatalf("redelivery: %+v %v", again, err)
	}
	for _, d := range again {
		if err := d.Ack(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.State(ctx(t))
	if err != nil || st.AckFloor != 5 || st.Pending != 0 || st.InFlight != 0 {
		t.Fatalf("state %+v %v", st, err)
	}
	// Reopening keeps the place (StartSeq only applies to a new consumer).
	cfg.StartSeq = 1
	c, err = cs.EnsureConsumer(ctx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Append(ctx(t), e, n, msgs("6")); err != nil {
		t.Fatal(err)
	}
	got, err = c.Fetch(ctx(t), 1, time.Second)
	if err != nil || len(got) != 1 || got[0].Seq != 6 {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
	if err := got[0].Ack(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Fetch(ctx(t), 10, 50*time.Millisecond); err != nil || len(got) != 0 {
		t.Fatalf("empty fetch: %+v %v", got, err)
	}
	if err := cs.DeleteConsumer(ctx(t), n, "p1"); err != nil {
		t.Fatal(err)
	}
	if err := cs.DeleteMsg(ctx(t), n, 2); err != nil {
		t.Fatal(err)
	}
	var m engine.Stored
	eventually(func() bool { m, err = e.Get(ctx(t), n, 2); return err != nil || m.Seq != 2 })
	if err != nil || m.Seq != 3 {
		t.Fatalf("get after delete: %+v %v", m, err)
	}
}

// consumersAckAll: acknowledging a delivery acknowledges the earlier ones;
// those after it come again after AckWait.
func consumersAckAll(t *testing.T, e engine.Engine, cs engine.Consumers) {
	n := name("ackall")
	mustEnsure(t, e, n)
	if _, err := engine.Append(ctx(t), e, n, msgs("1", "2", "3", "4", "5")); err != nil {
		t.Fatal(err)
	}
	cfg := engine.ConsumerConfig{Stream: n, Name: "s1", StartSeq: 1, MaxAckPending: 10, AckWait: 300 * time.Millisecond, AckAll: true}
	c, err := cs.EnsureConsumer(ctx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Fetch(ctx(t), 5, time.Second)
	if err != nil || len(got) != 5 {
		t.Fatalf("fetch: %+v %v", got, err)
	}
	if err := got[2].Ack(ctx(t)); err != nil {
		t.Fatal(err)
	}
	st, err := c.State(ctx(t))
	if err != nil || st.AckFloor != 3 || st.InFlight != 2 {
		t.Fatalf("state after acking 3 of 5: %+v %v", st, err)
	}
	time.Sleep(400 * time.Millisecond)
	again, err := c.Fetch(ctx(t), 2, time.Second)
	if err != nil || len(again) != 2 || again[0].Seq != 4 || again[1].Seq != 5 || again[0].Attempt != 2 {
		t.Fatalf("redelivery: %+v %v", again, err)
	}
	if err := again[1].Ack(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if st, err := c.State(ctx(t)); err != nil || st.AckFloor != 5 || st.InFlight != 0 {
		t.Fatalf("state after acking 5: %+v %v", st, err)
	}
	if err := cs.DeleteConsumer(ctx(t), n, "s1"); err != nil {
		t.Fatal(err)
	}
}

func origins(t *testing.T, e engine.Engine) {
	n := name("origin")
	mustEnsure(t, e, n)
	ms := msgs("p1", "a1", "b1", "a2", "p2")
	ms[1].Origin, ms[2].Origin, ms[3].Origin = "src-a", "src_b", "src-a"
	if _, err := engine.Append(ctx(t), e, n, ms); err != nil {
		t.Fatal(err)
	}
	last, err := e.LastOf(ctx(t), n, "src-a")
	if err != nil || last.Seq != 4 || last.Header["Sluice-Test"] != "h-a2" {
		t.Fatalf("last of src-a: %+v %v", last, err)
	}
	if last, err := e.LastOf(ctx(t), n, "src_b"); err != nil || last.Seq != 3 {
		t.Fatalf("last of src_b: %+v %v", last, err)
	}
	if _, err := e.LastOf(ctx(t), n, "none"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("last of an origin that never appended: %v", err)
	}
	// Ranges and gets see every message, whatever its origin, in order.
	b, err := e.Range(ctx(t), n, 1, 10, 1<<20)
	if err != nil || len(b.Msgs) != 5 {
		t.Fatalf("range: %+v %v", b, err)
	}
	for i, m := range b.Msgs {
		if m.Seq != uint64(i+1) {
			t.Fatalf("range: message %d has seq %d", i, m.Seq)
		}
	}
	if m, err := e.Get(ctx(t), n, 2); err != nil || m.Header["Sluice-Test"] != "h-a1" {
		t.Fatalf("get 2: %+v %v", m, err)
	}
}

// nestedNames: streams "x" and "x.y" coexist and keep apart.
func nestedNames(t *testing.T, e engine.Engine) {
	n := name("nest")
	mustEnsure(t, e, n)
	mustEnsure(t, e, n+".y")
	mustEnsure(t, e, n+".o") // lower case, as names are: no clash with the upper-case tokens
	mustEnsure(t, e, n+".e")
	if _, err := engine.Append(ctx(t), e, n+".y", msgs("1", "2")); err != nil {
		t.Fatal(err)
	}
	if st, err := e.State(ctx(t), n); err != nil || st.Messages != 0 {
		t.Fatalf("parent stream got the child's messages: %+v %v", st, err)
	}
}

// eventually calls read until it reports true, for up to 5 s: on a
// replicated stream or bucket a read may be served by a replica that
// applies a write a moment after the leader answered it (see
// engine.Engine). The caller then checks what read saw.
func eventually(read func() bool) {
	for deadline := time.Now().Add(5 * time.Second); !read() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustEnsure(t *testing.T, e engine.Engine, n string) {
	t.Helper()
	if err := e.EnsureStream(ctx(t), engine.StreamConfig{Name: n, DuplicateWindow: time.Minute}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteStream(context.Background(), n) })
}

func msgs(ids ...string) []engine.Msg {
	out := make([]engine.Msg, len(ids))
	for i, id := range ids {
		out[i] = engine.Msg{ID: id, Header: map[string]string{"Sluice-Test": "h-" + id}, Data: []byte(`{"id":"` + id + `"}`)}
	}
	return out
}

func ensureIdempotent(t *testing.T, e engine.Engine) {
	n := name("ensure")
	mustEnsure(t, e, n)
	if err := e.EnsureStream(ctx(t), engine.StreamConfig{Name: n, DuplicateWindow: time.Minute, MaxAge: time.Hour}); err != nil {
		t.Fatalf("second ensure: %v", err)
	}
	st, err := e.State(ctx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != 0 || st.FirstSeq != 0 || st.LastSeq != 0 {
		t.Fatalf("new stream state = %+v", st)
	}
	if _, err := e.State(ctx(t), name("missing")); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("state of a missing stream: %v, want ErrNotFound", err)
	}
}

func appendDedupe(t *testing.T, e engine.Engine) {
	n := name("append")
	mustEnsure(t, e, n)
	got, err := engine.Append(ctx(t), e, n, msgs("a", "b", "a", "c"))
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.Appended{{Seq: 1}, {Seq: 2}, {Seq: 1, Duplicate: true}, {Seq: 3}}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("append results %v, want %v", got, want)
		}
	}
	got, err = engine.Append(ctx(t), e, n, msgs("c", "d"))
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != (engine.Appended{Seq: 3, Duplicate: true}) || got[1] != (engine.Appended{Seq: 4}) {
		t.Fatalf("second append %v", got)
	}
	st, err := e.State(ctx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != 4 || st.FirstSeq != 1 || st.LastSeq != 4 || st.Bytes == 0 {
		t.Fatalf("state %+v", st)
	}
	// Many messages in one publish keep their order.
	var ids []string
	for i := range 5000 {
		ids = append(ids, fmt.Sprint("bulk-", i))
	}
	got, err = engine.Append(ctx(t), e, n, msgs(ids...))
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range got {
		if a.Seq != uint64(5+i) || a.Duplicate {
			t.Fatalf("bulk %d: %+v", i, a)
		}
	}
}

// exactIDs: ids are compared byte for byte (no trimming, no folding of
// line breaks), and header values come back as they were written.
func exactIDs(t *testing.T, e engine.Engine) {
	n := name("exact")
	mustEnsure(t, e, n)
	ids := []string{"w1", "w1 ", " w1", "w1\t", "x", "x\n", "x\r\n", "x x", "  ", " ", "%", "%25", "%w1", "a%20b", "a b",
		"\x00", "\x7f", "é", "e\u0301", "ü\u3000"}
	first, err := engine.Append(ctx(t), e, n, msgs(ids...))
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range first {
		if a.Duplicate || a.Seq != uint64(i+1) {
			t.Fatalf("id %q: %+v, want stored at %d (ids differ byte-wise)", ids[i], a, i+1)
		}
	}
	again, err := engine.Append(ctx(t), e, n, msgs(ids...))
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range again {
		if !a.Duplicate || a.Seq != uint64(i+1) {
			t.Fatalf("id %q sent again: %+v, want a duplicate of %d", ids[i], a, i+1)
		}
	}
	for i, id := range ids {
		m, err := e.Get(ctx(t), n, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Header["Sluice-Test"]; got != "h-"+id {
			t.Fatalf("header of %d: %q, want %q", i+1, got, "h-"+id)
		}
	}
}

func getAtOrAfter(t *testing.T, e engine.Engine) {
	n := name("get")
	mustEnsure(t, e, n)
	if _, err := engine.Append(ctx(t), e, n, msgs("x", "y")); err != nil {
		t.Fatal(err)
	}
	m, err := e.Get(ctx(t), n, 2)
	if err != nil {
		t.Fatal(err)
	}
	if m.Seq != 2 || string(m.Data) != `{"id":"y"}` || m.Header["Sluice-Test"] != "h-y" || m.Arrived.IsZero() {
		t.Fatalf("get 2 = %+v", m)
	}
	if _, ok := m.Header["Nats-Msg-Id"]; ok {
		t.Fatalf("engine headers leak: %v", m.Header)
	}
	if _, err := e.Get(ctx(t), n, 3); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("get past the end: %v, want ErrNotFound", err)
	}
}

// rangeBatches: a range is bounded by count and by bytes, says what is
// left, and reads nothing of other streams.
func rangeBatches(t *testing.T, e engine.Engine) {
	n := name("range")
	mustEnsure(t, e, n)
	mustEnsure(t, e, n+".y")
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = fmt.Sprintf("%02d-%0100d", i+1, 0) // 103-byte events
	}
	if _, err := engine.Append(ctx(t), e, n, msgs(ids...)); err != nil {
		t.Fatal(err)
	}
	b, err := e.Range(ctx(t), n, 1, 3, 1<<20)
	if err != nil || len(b.Msgs) != 3 || b.Msgs[0].Seq != 1 || b.Msgs[2].Seq != 3 || b.Pending != 7 {
		t.Fatalf("first 3: %+v %v", b, err)
	}
	m := b.Msgs[1]
	if m.Header["Sluice-Test"] != "h-"+ids[1] || string(m.Data) != `{"id":"`+ids[1]+`"}` || m.Arrived.IsZero() {
		t.Fatalf("message 2 = %+v", m)
	}
	if _, ok := m.Header["Nats-Msg-Id"]; ok {
		t.Fatalf("engine headers leak: %v", m.Header)
	}
	if b, err := e.Range(ctx(t), n, 8, 10, 1<<20); err != nil || len(b.Msgs) != 3 || b.Msgs[2].Seq != 10 || b.Pending != 0 {
		t.Fatalf("last 3: %+v %v", b, err)
	}
	if b, err := e.Range(ctx(t), n, 11, 10, 1<<20); err != nil || len(b.Msgs) != 0 {
		t.Fatalf("past the end: %+v %v", b, err)
	}
	if b, err := e.Range(ctx(t), n, 0, 1, 1<<20); err != nil || len(b.Msgs) != 1 || b.Msgs[0].Seq != 1 {
		t.Fatalf("from 0: %+v %v", b, err)
	}
	// A byte bound smaller than one message still returns that message.
	if b, err := e.Range(ctx(t), n, 4, 10, 1); err != nil || len(b.Msgs) != 1 || b.Msgs[0].Seq != 4 || b.Pending != 6 {
		t.Fatalf("1 byte: %+v %v", b, err)
	}
	b, err = e.Range(ctx(t), n, 1, 10, 350)
	if err != nil || len(b.Msgs) == 0 || len(b.Msgs) > 4 {
		t.Fatalf("350 bytes of 103-byte events: %d messages, %v", len(b.Msgs), err)
	}
	if b, err := e.Range(ctx(t), n+".y", 1, 10, 1<<20); err != nil || len(b.Msgs) != 0 {
		t.Fatalf("child stream got the parent's messages: %+v %v", b, err)
	}
	if _, err := e.Range(ctx(t), name("missing"), 1, 10, 1<<20); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("range of a missing stream: %v, want ErrNotFound", err)
	}
	if cs, ok := e.(engine.Consumers); ok {
		for _, seq := range []uint64{2, 3, 10} {
			if err := cs.DeleteMsg(ctx(t), n, seq); err != nil {
				t.Fatal(err)
			}
		}
		b, err := e.Range(ctx(t), n, 2, 3, 1<<20)
		if err != nil || len(b.Msgs) != 3 || b.Msgs[0].Seq != 4 || b.Msgs[2].Seq != 6 || b.Pending != 3 {
			t.Fatalf("over deleted messages: %+v %v", b, err)
		}
		if b, err := e.Range(ctx(t), n, 10, 3, 1<<20); err != nil || len(b.Msgs) != 0 {
			t.Fatalf("deleted last: %+v %v", b, err)
		}
	}
}

// scan: a scan reads its range and ends, without waiting, at its end or
// at the stream's.
func scan(t *testing.T, e engine.Engine) {
	n := name("scan")
	mustEnsure(t, e, n)
	ids := make([]string, 600)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	if _, err := engine.Append(ctx(t), e, n, msgs(ids...)); err != nil {
		t.Fatal(err)
	}
	read := func(from, to uint64) []uint64 {
		t.Helper()
		r, err := e.Scan(ctx(t), n, from, to)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var got []uint64
		for {
			m, err := r.Next(ctx(t))
			if errors.Is(err, io.EOF) {
				return got
			}
			if err != nil {
				t.Fatalf("scan %d-%d after %d messages: %v", from, to, len(got), err)
			}
			if m.Header["Sluice-Test"] != "h-"+fmt.Sprint(m.Seq) {
				t.Fatalf("scan: message %+v", m)
			}
			got = append(got, m.Seq)
		}
	}
	check := func(from, to uint64, first, count int) {
		t.Helper()
		got := read(from, to)
		if len(got) != count || count > 0 && got[0] != uint64(first) {
			t.Fatalf("scan %d-%d: %d messages from %v, want %d from %d", from, to, len(got), got[:min(len(got), 3)], count, first)
		}
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("scan %d-%d: out of order at %d", from, to, i)
			}
		}
	}
	check(1, 601, 1, 600)
	check(100, 400, 100, 300)
	check(599, 10000, 599, 2) // past the stream's end: ends there, without waiting
	check(300, 300, 0, 0)
	if cs, ok := e.(engine.Consumers); ok {
		for seq := uint64(200); seq < 601; seq++ { // the rest of the stream from 200 on
			if err := cs.DeleteMsg(ctx(t), n, seq); err != nil {
				t.Fatal(err)
			}
		}
		eventually(func() bool { return len(read(150, 601)) == 50 && len(read(250, 601)) == 0 })
		check(150, 601, 150, 50)
		check(250, 601, 0, 0)
	}
}

func follow(t *testing.T, e engine.Engine) {
	n := name("follow")
	mustEnsure(t, e, n)
	if _, err := engine.Append(ctx(t), e, n, msgs("1", "2", "3")); err != nil {
		t.Fatal(err)
	}
	r, err := e.Follow(ctx(t), n, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	next := func(want uint64) {
		t.Helper()
		m, err := r.Next(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if m.Seq != want || m.Header["Sluice-Test"] == "" {
			t.Fatalf("read seq %d (%+v), want %d", m.Seq, m, want)
		}
	}
	next(2)
	next(3)
	go func() { _, _ = engine.Append(context.Background(), e, n, msgs("4")) }()
	next(4)
	// Next honours its context while waiting.
	c, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := r.Next(c); err == nil {
		t.Fatal("Next returned a message that was never appended")
	}
}

func deleteStream(t *testing.T, e engine.Engine) {
	n := name("delete")
	if err := e.EnsureStream(ctx(t), engine.StreamConfig{Name: n}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Append(ctx(t), e, n, msgs("a")); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteStream(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	if _, err := e.State(ctx(t), n); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("state after delete: %v", err)
	}
	if err := e.DeleteStream(ctx(t), n); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}
