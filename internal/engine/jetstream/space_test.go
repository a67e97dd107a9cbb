package jetstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/testenv"
)

// msgs makes n messages of 1000 bytes with ids prefix-<from+i>.
func msgs(prefix string, from, n int) []engine.Msg {
	out := make([]engine.Msg, n)
	for i := range out {
		id := fmt.Sprintf("%s-%d", prefix, from+i)
		out[i] = engine.Msg{ID: id, Header: map[string]string{"Sluice-Id": id}, Data: bytes.Repeat([]byte{'a' + byte((from+i)%26)}, 1000)}
	}
	return out
}

// appendSome appends ms and returns what the engine says was stored:
// everything, a part (PartialError), or nothing; and the error.
func appendSome(t *testing.T, e *Engine, stream string, ms []engine.Msg) ([]engine.Appended, error) {
	t.Helper()
	// A deadline only so that a hang fails the test instead of stalling it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	got, err := engine.Append(ctx, e, stream, ms)
	if err != nil {
		t.Logf("append took %v: %v", time.Since(t0), err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("append hung for 2 minutes instead of answering")
	}
	var partial *engine.PartialError
	if errors.As(err, &partial) {
		return partial.Appended, err
	}
	if err != nil {
		return make([]engine.Appended, len(ms)), err
	}
	return got, nil
}

func spaceErr(t *testing.T, err error, cause engine.SpaceCause) *engine.SpaceError {
	t.Helper()
	var se *engine.SpaceError
	if !errors.Is(err, engine.ErrNoSpace) || !errors.As(err, &se) || se.Cause != cause {
		t.Fatalf("want an out-of-space error (%s), got %v", cause, err)
	}
	return se
}

// checkStored reads the stream back: exactly the messages want (by
// sequence) are there, whole.
func checkStored(t *testing.T, e *Engine, stream string, want map[uint64]engine.Msg) {
	t.Helper()
	ctx := context.Background()
	st, err := e.State(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != uint64(len(want)) {
		t.Fatalf("the stream holds %d messages; the answers said %d were stored", st.Messages, len(want))
	}
	for seq, m := range want {
		got, err := e.Get(ctx, stream, seq)
		if err != nil {
			t.Fatalf("stored message %d: %v", seq, err)
		}
		if got.Seq != seq || got.Header["Sluice-Id"] != m.ID || !bytes.Equal(got.Data, m.Data) {
			t.Fatalf("message %d is %s (%d bytes), want %s", seq, got.Header["Sluice-Id"], len(got.Data), m.ID)
		}
	}
}

// record adds what the answer says was stored to stored.
func record(t *testing.T, stored map[uint64]engine.Msg, ms []engine.Msg, got []engine.Appended) (n int) {
	t.Helper()
	for i, a := range got {
		if a.Seq == 0 {
			continue
		}
		if prev, ok := stored[a.Seq]; ok && prev.ID != ms[i].ID {
			t.Fatalf("seq %d given to %s and to %s", a.Seq, prev.ID, ms[i].ID)
		}
		stored[a.Seq] = ms[i]
		n++
	}
	return n
}

// waitReady polls Ready until it is nil (space returned and noticed).
func waitReady(t *testing.T, e *Engine) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < time.Minute {
		if err = e.Ready(context.Background()); err == nil {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not ready a minute after space returned: %v", err)
	return 0
}

// With a store limit, a batch that does not fit is stored as far as it
// fits, and the answer says exactly which messages those are.
func TestStoreLimitSaysWhatWasStored(t *testing.T) {
	e, err := Open(context.Background(), Options{DataDir: t.TempDir(), MaxStore: 300_000})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	for _, s := range []string{"filler", "lim"} {
		if err := e.EnsureStream(ctx, engine.StreamConfig{Name: s, DuplicateWindow: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := engine.Append(ctx, e, "filler", msgs("f", 0, 100)); err != nil {
		t.Fatal(err)
	}
	stored := map[uint64]engine.Msg{}
	batch := msgs("m", 0, 400)
	got, err := appendSome(t, e, "lim", batch)
	var partial *engine.PartialError
	if !errors.As(err, &partial) {
		t.Fatalf("a batch larger than the store limit: want a PartialError, got %v", err)
	}
	se := spaceErr(t, err, engine.StoreLimit)
	if se.Limit != 300_000 || se.Used < 290_000 {
		t.Fatalf("the error says %d of %d bytes stored; want about 300000 of 300000", se.Used, se.Limit)
	}
	n := record(t, stored, batch, got)
	if n == 0 || n >= len(batch) || partial.First != n || partial.Stored() != n {
		t.Fatalf("stored %d of %d, first not stored %d: want a prefix", n, len(batch), partial.First)
	}
	checkStored(t, e, "lim", stored)
	if err := e.Ready(ctx); !errors.Is(err, engine.ErrNoSpace) {
		t.Fatalf("ready at the store limit: %v", err)
	}
	// Over the limit, nothing more is stored and the answer says so.
	if _, err := appendSome(t, e, "lim", msgs("n", 0, 10)); !errors.Is(err, engine.ErrNoSpace) || errors.As(err, new(*engine.PartialError)) {
		t.Fatalf("over the limit: want out of space with nothing stored, got %v", err)
	}
	checkStored(t, e, "lim", stored)

	// Space returns: the rest of the batch goes in, the first part is
	// recognised as duplicates at their sequences.
	if err := e.DeleteStream(ctx, "filler"); err != nil {
		t.Fatal(err)
	}
	waitReady(t, e)
	got, err = appendSome(t, e, "lim", batch[:200])
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range got {
		if i < n && (!a.Duplicate || stored[a.Seq].ID != batch[i].ID) {
			t.Fatalf("message %d stored before: got seq %d duplicate %v", i, a.Seq, a.Duplicate)
		}
	}
	record(t, stored, batch[:200], got)
	checkStored(t, e, "lim", stored)
}

// Below the disk reserve a batch is refused whole before anything is sent.
func TestDiskReserveRefusesWholeBatches(t *testing.T) {
	dir := testenv.Tmpfs(t, 8<<20)
	e, err := Open(context.Background(), Options{DataDir: dir, MinFreeDisk: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	if err := e.EnsureStream(ctx, engine.StreamConfig{Name: "r", DuplicateWindow: time.Hour}); err != nil {
		t.Fatal(err)
	}
	stored := map[uint64]engine.Msg{}
	first := msgs("a", 0, 50)
	got, err := appendSome(t, e, "r", first)
	if err != nil {
		t.Fatal(err)
	}
	record(t, stored, first, got)
	fill := testenv.Fill(t, dir, "fill", 1<<20)
	_, err = appendSome(t, e, "r", msgs("b", 0, 50))
	se := spaceErr(t, err, engine.DiskReserve)
	if se.Reserve != 2<<20 || se.Free > 1<<20 || se.Path == "" {
		t.Fatalf("the error says %d free of a %d reserve on %q", se.Free, se.Reserve, se.Path)
	}
	checkStored(t, e, "r", stored)
	if err := e.Ready(ctx); !errors.Is(err, engine.ErrNoSpace) {
		t.Fatalf("ready below the reserve: %v", err)
	}
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	waitReady(t, e)
	again := msgs("b", 0, 50)
	got, err = appendSome(t, e, "r", again)
	if err != nil {
		t.Fatal(err)
	}
	record(t, stored, again, got)
	checkStored(t, e, "r", stored)
}

// When the disk fills all the way (no reserve), the append that hits
// ENOSPC answers at once with what was stored, later appends are refused,
// and once space returns the store is reopened in the same process with
// nothing acknowledged lost. Twice, so the second time is noticed too.
func TestDiskFullAnswersAndRecovers(t *testing.T) {
	dir := testenv.Tmpfs(t, 8<<20)
	e, err := Open(context.Background(), Options{DataDir: dir, MinFreeDisk: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	if err := e.EnsureStream(ctx, engine.StreamConfig{Name: "full", DuplicateWindow: time.Hour}); err != nil {
		t.Fatal(err)
	}
	// A reader that follows the stream all along, across the restarts.
	r, err := e.Follow(ctx, "full", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stored := map[uint64]engine.Msg{}
	next := 0
	for round := 0; round < 2; round++ {
		fill := testenv.Fill(t, dir, "fill", 400<<10)
		var refused []engine.Msg
		for len(refused) == 0 {
			batch := msgs("m", next, 50)
			next += 50
			got, err := appendSome(t, e, "full", batch)
			record(t, stored, batch, got)
			if err != nil {
				spaceErr(t, err, engine.DiskFull)
				for i, a := range got {
					if a.Seq == 0 {
						refused = append(refused, batch[i])
					}
				}
			}
			if next > 5000 {
				t.Fatal("5000 messages of 1000 bytes went into 400KiB")
			}
		}
		// Refused at once now, nothing sent; reads go on.
		_, err := appendSome(t, e, "full", msgs("x", next, 5))
		spaceErr(t, err, engine.DiskFull)
		spaceErr(t, e.Ready(ctx), engine.DiskFull)
		checkStored(t, e, "full", stored)

		if err := os.Remove(fill); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d stored, ready %v after the space returned", round, len(stored), waitReady(t, e))
		got, err := appendSome(t, e, "full", refused)
		if err != nil {
			t.Fatalf("after space returned: %v", err)
		}
		record(t, stored, refused, got)
		checkStored(t, e, "full", stored)
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for seq := uint64(1); seq <= uint64(len(stored)); seq++ {
		m, err := r.Next(rctx)
		if err != nil {
			t.Fatalf("the reader, at %d of %d: %v", seq, len(stored), err)
		}
		if m.Seq != seq || m.Header["Sluice-Id"] != stored[seq].ID {
			t.Fatalf("the reader got %d (%s), want %d (%s)", m.Seq, m.Header["Sluice-Id"], seq, stored[seq].ID)
		}
	}
}

// A stream whose max_bytes does not fit in the store limit is refused with
// a reason, not a bare JetStream code.
func TestMaxBytesOverStoreLimit(t *testing.T) {
	e, err := Open(context.Background(), Options{DataDir: t.TempDir(), MaxStore: 10 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	err = e.EnsureStream(context.Background(), engine.StreamConfig{Name: "big", MaxBytes: 1 << 30})
	se := spaceErr(t, err, engine.StoreLimit)
	if se.Limit != 10<<20 || !strings.Contains(err.Error(), "max_bytes") {
		t.Fatalf("got %v", err)
	}
}

// Wait's bookkeeping: what is reported stored and what is retried.
func TestWaitResult(t *testing.T) {
	space := &engine.SpaceError{Cause: engine.DiskFull}
	out := []engine.Appended{{Seq: 1}, {Seq: 2}, {}, {Seq: 3}, {}}
	refused := map[int]error{2: space, 4: space}
	if h := holes(out, refused); len(h) != 1 || h[0] != 2 || len(refused) != 1 {
		t.Fatalf("holes: %v, refused left %v", h, refused)
	}
	p := &pending{e: &Engine{}, stream: "s"}
	refused[2] = space
	_, err := p.result(out, refused)
	var partial *engine.PartialError
	if !errors.As(err, &partial) || partial.First != 2 || partial.Stored() != 3 || !errors.Is(err, engine.ErrNoSpace) {
		t.Fatalf("result: %v", err)
	}
	if _, err := p.result(make([]engine.Appended, 3), map[int]error{1: space}); errors.As(err, &partial) || !errors.Is(err, engine.ErrNoSpace) {
		t.Fatalf("nothing stored: want a plain out-of-space error, got %v", err)
	}
	if got, err := p.result(out[:2], map[int]error{}); err != nil || len(got) != 2 {
		t.Fatalf("all stored: %v %v", got, err)
	}
}
