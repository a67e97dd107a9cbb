package jetstream

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/engine"
)

// TestReadsLeaveNoConsumers: ranges hold nothing on the server, and a
// follower's consumer goes when it is closed, not minutes later.
func TestReadsLeaveNoConsumers(t *testing.T) {
	e := openEmbedded(t, t.TempDir())
	defer e.Close()
	ctx := context.Background()
	if err := e.EnsureStream(ctx, engine.StreamConfig{Name: "r", DuplicateWindow: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Append(ctx, e, "r", []engine.Msg{{ID: "a", Data: []byte("1")}, {ID: "b", Data: []byte("2")}}); err != nil {
		t.Fatal(err)
	}
	for i := range 1200 {
		if b, err := e.Range(ctx, "r", uint64(1+i%2), 1, 1<<20); err != nil || len(b.Msgs) != 1 {
			t.Fatalf("range %d: %+v %v", i, b, err)
		}
	}
	consumers := func() int {
		t.Helper()
		n, err := e.ConsumerCount(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := consumers(); n != 0 {
		t.Fatalf("%d consumers after 1,200 ranges", n)
	}
	f, err := e.Follow(ctx, "r", 1)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := f.Next(ctx); err != nil || m.Seq != 1 {
		t.Fatalf("follow: %+v %v", m, err)
	}
	if n := consumers(); n != 1 {
		t.Fatalf("%d consumers while following, want 1", n)
	}
	f.Close()
	if n := consumers(); n != 0 {
		t.Fatalf("%d consumers after the follower closed", n)
	}
}

// TestRangeOverForeignMessages: messages published straight to a stream's
// subject, without headers, with forged server headers or with a header
// block the client cannot decode, are read in their place (the last with
// no headers) and do not end a batch or hide their neighbours.
func TestRangeOverForeignMessages(t *testing.T) {
	port := freePort(t)
	e, err := Open(context.Background(), Options{DataDir: t.TempDir(), Listen: fmt.Sprintf("127.0.0.1:%d", port)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	if err := e.EnsureStream(ctx, engine.StreamConfig{Name: "f", DuplicateWindow: time.Minute}); err != nil {
		t.Fatal(err)
	}
	own := func(id string) {
		t.Helper()
		if _, err := engine.Append(ctx, e, "f", []engine.Msg{{ID: id, Header: map[string]string{"Sluice-Id": id}, Data: []byte(id)}}); err != nil {
			t.Fatal(err)
		}
	}
	nc, err := nats.Connect(e.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	raw := func(h nats.Header, data string) {
		t.Helper()
		m := nats.NewMsg(subject("f"))
		m.Header, m.Data = h, []byte(data)
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	own("a")                                                                              // 1
	raw(nil, "plain bytes")                                                               // 2
	raw(nats.Header{"Status": {"204"}, "Nats-Num-Pending": {"0"}}, "")                    // 3: looks like the end of a batch
	raw(nats.Header{"Nats-Sequence": {"1"}, "Nats-Stream": {"x"}, "Status": {"404"}}, "") // 4: forged server headers
	own("b")                                                                              // 5
	hpub(t, port, subject("f"), "NATS/1.0\r\nno colon here\r\n\r\n", "undecodable")       // 6
	own("c")                                                                              // 7
	hpub(t, port, subject("f"), "NATS/1.0\r\nno colon\r\n\r\n", "x")                      // 8
	hpub(t, port, subject("f"), "NATS/1.0\r\nno colon\r\n\r\n", "y")                      // 9: two in a row
	own("d")                                                                              // 10
	waitLast(t, e, "f", 10)

	for _, size := range []int{1, 2, 3, 20} {
		var got []uint64
		var ids []string
		for from := uint64(1); ; {
			b, err := e.Range(ctx, "f", from, size, 1<<20)
			if err != nil {
				t.Fatalf("batch of %d from %d: %v", size, from, err)
			}
			if len(b.Msgs) == 0 {
				break
			}
			for _, m := range b.Msgs {
				got = append(got, m.Seq)
				if id := m.Header["Sluice-Id"]; id != "" {
					ids = append(ids, id)
				}
				from = m.Seq + 1
			}
		}
		if strings.Join(ids, "") != "abcd" {
			t.Errorf("batches of %d: own messages %q, want abcd (seqs %v)", size, ids, got)
		}
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Errorf("batches of %d: sequences out of order: %v", size, got)
			}
		}
		if len(got) < 8 || got[len(got)-1] != 10 {
			t.Errorf("batches of %d: sequences %v, want 1-10 (8 may be left out)", size, got)
		}
	}
	for seq, want := range map[uint64]string{1: "a", 2: "plain bytes", 3: "", 4: "", 5: "b", 6: "undecodable", 7: "c", 10: "d"} {
		m, err := e.Get(ctx, "f", seq)
		if err != nil || m.Seq != seq || string(m.Data) != want {
			t.Errorf("get %d: %+v %v, want %q", seq, m, err, want)
		}
	}
	if m, err := e.Get(ctx, "f", 6); err != nil || m.Header != nil {
		t.Errorf("get of an undecodable message: %+v %v, want no headers", m, err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// hpub publishes a message with a raw header block, which nats.go would
// not write, over the NATS protocol itself.
func hpub(t *testing.T, port int, subj, hdr, data string) {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil { // INFO
		t.Fatal(err)
	}
	fmt.Fprintf(c, "CONNECT {\"verbose\":false,\"headers\":true,\"protocol\":1}\r\nHPUB %s %d %d\r\n%s%s\r\nPING\r\n",
		subj, len(hdr), len(hdr)+len(data), hdr, data)
	if line, err := r.ReadString('\n'); err != nil || line != "PONG\r\n" {
		t.Fatalf("raw publish: %q %v", line, err)
	}
}

func waitLast(t *testing.T, e *Engine, name string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := e.State(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if st.LastSeq >= want {
			if st.LastSeq != want {
				t.Fatalf("stream has %d messages, want %d", st.LastSeq, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream has %d messages after 10s, want %d", st.LastSeq, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// silent is an ordered consumer's iterator that never delivers again, as
// one whose pull was lost when a server of a cluster was killed.
type silent struct{ jetstream.MessagesContext }

func (silent) Next(...jetstream.NextOpt) (jetstream.Msg, error) {
	time.Sleep(20 * time.Millisecond)
	return nil, context.DeadlineExceeded
}

// TestScanOutlivesASilentConsumer: a scan whose consumer stops delivering
// while the stream holds more of its range reads the rest by direct gets,
// in order, skipping what was deleted, up to its end, and leaves no
// consumer behind (it used to wait for the consumer for good).
func TestScanOutlivesASilentConsumer(t *testing.T) {
	e := openEmbedded(t, t.TempDir())
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.EnsureStream(ctx, engine.StreamConfig{Name: "long", DuplicateWindow: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Append(ctx, e, "long", msgs("m", 0, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteMsg(ctx, "long", 500); err != nil {
		t.Fatal(err)
	}
	r, err := e.Scan(ctx, "long", 1, 801)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []uint64
	for len(got) < 10 {
		m, err := r.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Seq)
	}
	f := r.(*follower)
	f.it.Stop()
	f.it = silent{f.it}
	for {
		m, err := r.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d messages: %v", len(got), err)
		}
		if want := fmt.Sprintf("m-%d", m.Seq-1); m.Header["Sluice-Id"] != want {
			t.Fatalf("seq %d is %q, want %q", m.Seq, m.Header["Sluice-Id"], want)
		}
		got = append(got, m.Seq)
	}
	if len(got) != 799 || got[498] != 499 || got[499] != 501 || got[798] != 800 {
		t.Fatalf("read %d messages: %v...%v", len(got), got[:min(3, len(got))], got[max(0, len(got)-3):])
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("out of order at %d: %d after %d", i, got[i], got[i-1])
		}
	}
	if !f.direct {
		t.Fatal("the scan never read by direct gets")
	}
	if n, err := e.ConsumerCount(ctx, "long"); err != nil || n != 0 {
		t.Fatalf("consumers left while the scan is open: %d %v", n, err)
	}
}
