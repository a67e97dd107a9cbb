package jetstream

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/testenv/natstest"
)

// behindDirect answers direct gets as a replica that holds a stream only
// up to last would: what it has, and "nothing after" (nats-server lets a
// follower answer them from 90% caught up).
type behindDirect struct {
	directGets
	upTo uint64
}

func (b behindDirect) batch(ctx context.Context, stream string, seq uint64, n, maxBytes int) (engine.Batch, error) {
	if seq > b.upTo {
		return engine.Batch{}, nil
	}
	got, err := b.directGets.batch(ctx, stream, seq, n, maxBytes)
	if err != nil {
		return got, err
	}
	for i, m := range got.Msgs {
		if m.Seq > b.upTo {
			got.Msgs = got.Msgs[:i]
			break
		}
	}
	if k := len(got.Msgs); k == 0 || got.Msgs[k-1].Seq == b.upTo {
		got.Pending = 0
	}
	return got, nil
}

// last: such a replica holds no message of the origin yet.
func (b behindDirect) last(context.Context, string, string) (engine.Stored, error) {
	return engine.Stored{}, engine.ErrNotFound
}

// behindConsumer is an ordered consumer placed on such a replica: it
// delivers up to last, says nothing is pending there, then nothing more.
type behindConsumer struct {
	jetstream.MessagesContext
	last uint64
	done bool
}

type behindMsg struct {
	jetstream.Msg
	md *jetstream.MsgMetadata
}

func (m behindMsg) Metadata() (*jetstream.MsgMetadata, error) { return m.md, nil }

func (c *behindConsumer) Next(opts ...jetstream.NextOpt) (jetstream.Msg, error) {
	if c.done {
		time.Sleep(20 * time.Millisecond)
		return nil, context.DeadlineExceeded
	}
	m, err := c.MessagesContext.Next(opts...)
	if err != nil {
		return m, err
	}
	md, err := m.Metadata()
	if err != nil {
		return m, err
	}
	if md.Sequence.Stream == c.last {
		cp := *md
		cp.NumPending = 0
		c.done = true
		return behindMsg{m, &cp}, nil
	}
	return m, nil
}

// TestReadsOfAReplicaBehindItsLeader: on a cluster, a read that a
// follower's direct gets or consumer would end early (the kill -9 suite
// saw a files output write 500 of an object's 970 events so) reads on to
// the leader's end, and the true end still ends it; an origin's last
// message is the leader's.
func TestReadsOfAReplicaBehindItsLeader(t *testing.T) {
	c := natstest.Cluster(t, 3)
	e := openCluster(t, c, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.EnsureStream(ctx, engine.StreamConfig{Name: "lag", DuplicateWindow: time.Minute}); err != nil {
		t.Fatal(err)
	}
	const n, behind = 1000, 400
	ms := msgs("m", 0, n)
	ms[n-2].Origin = "src"
	if _, err := engine.Append(ctx, e, "lag", ms); err != nil {
		t.Fatal(err)
	}
	e.direct = behindDirect{e.direct, behind}

	check := func(what string, got []uint64, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: after %d messages: %v", what, len(got), err)
		}
		if len(got) != n {
			t.Fatalf("%s: %d messages of %d, the last %v", what, len(got), n, got[max(0, len(got)-3):])
		}
		for i, s := range got {
			if s != uint64(i+1) {
				t.Fatalf("%s: message %d is seq %d", what, i, s)
			}
		}
	}

	var got []uint64
	var err error
	for next := uint64(1); ; {
		var b engine.Batch
		if b, err = e.Range(ctx, "lag", next, 256, 1<<20); err != nil || len(b.Msgs) == 0 {
			break
		}
		for _, m := range b.Msgs {
			got, next = append(got, m.Seq), m.Seq+1
		}
		if b.Pending == 0 {
			break
		}
	}
	check("Range", got, err)

	if m, err := e.Get(ctx, "lag", 700); err != nil || m.Seq != 700 || m.Header["Sluice-Id"] != "m-699" {
		t.Fatalf("Get 700: %+v %v", m, err)
	}
	if m, err := e.LastOf(ctx, "lag", "src"); err != nil || m.Seq != n-1 {
		t.Fatalf("LastOf: %+v %v", m, err)
	}
	if b, err := e.Range(ctx, "lag", n+1, 10, 1<<20); err != nil || len(b.Msgs) != 0 {
		t.Fatalf("after the end: %+v %v", b, err)
	}

	scan := func(to uint64) ([]uint64, *follower, error) {
		r, err := e.Scan(ctx, "lag", 1, to)
		if err != nil {
			return nil, nil, err
		}
		defer r.Close()
		f := r.(*follower)
		f.it = &behindConsumer{MessagesContext: f.it, last: behind}
		var got []uint64
		for {
			m, err := r.Next(ctx)
			if err == io.EOF {
				return got, f, nil
			}
			if err != nil {
				return got, f, err
			}
			if want := fmt.Sprintf("m-%d", m.Seq-1); m.Header["Sluice-Id"] != want {
				return got, f, fmt.Errorf("seq %d is %q, want %q", m.Seq, m.Header["Sluice-Id"], want)
			}
			got = append(got, m.Seq)
		}
	}
	got, f, err := scan(n + 1)
	check("Scan", got, err)
	if !f.direct {
		t.Fatal("the scan never left its consumer")
	}
	got, _, err = scan(2 * n) // a range past the stream's end ends at the end
	check("Scan past the end", got, err)
}
