package hostile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsListen is extra config for a node whose embedded NATS server takes
// clients on a free loopback port, and that port's URL.
func natsListen(t *testing.T) (yaml, url string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "nats:\n  listen: " + addr + "\n", "nats://" + addr
}

// consumersOf counts the JetStream consumers on stream s, as any NATS
// client of the node's server sees them.
func consumersOf(t *testing.T, url string) int {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(context.Background(), "sluice_s")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}

// TestReadsLeaveNothingBehind: 1,200 reads in a row, NDJSON pages and
// newest-first pages, all answer 200 and leave no consumer on the stream;
// live subscribers share one, gone once they are.
func TestReadsLeaveNothingBehind(t *testing.T) {
	extra, url := natsListen(t)
	n := startNode(t, extra)
	for i := range 5 {
		if a := do(t, "POST", n.URL+"/v1/streams/s/events", event(fmt.Sprint("e", i))); a.Status != http.StatusOK {
			t.Fatalf("produce: %d %s", a.Status, a.Body)
		}
	}
	for i := range 1200 {
		q := []string{"?limit=1", "?since=3&limit=1", "?order=desc&limit=2"}[i%3]
		if a := do(t, "GET", n.URL+"/v1/streams/s/events"+q, ""); a.Status != http.StatusOK || len(a.Body) == 0 {
			t.Fatalf("read %d (%s): %d %.300s", i+1, q, a.Status, a.Body)
		}
	}
	if c := consumersOf(t, url); c != 0 {
		t.Fatalf("%d consumers left on the stream after 1,200 reads", c)
	}

	// 50 live subscribers: one consumer between them, none a while after.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	got := make(chan string, 50)
	for range 50 {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", n.URL+"/v1/streams/s/events", nil)
			req.Header.Set("Accept", "text/event-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				got <- err.Error()
				return
			}
			defer resp.Body.Close()
			r := bufio.NewReader(resp.Body)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if strings.HasPrefix(line, "data: ") {
					got <- strings.TrimSpace(line)
					return
				}
			}
		})
	}
	n.waitSubscribers(t, 50)
	if c := consumersOf(t, url); c != 1 {
		t.Errorf("%d consumers for 50 live subscribers, want 1", c)
	}
	if a := do(t, "POST", n.URL+"/v1/streams/s/events", event("live")); a.Status != http.StatusOK {
		t.Fatalf("produce: %d %s", a.Status, a.Body)
	}
	for range 50 {
		if line := <-got; !strings.Contains(line, `"live"`) {
			t.Errorf("a subscriber got %q", line)
		}
	}
	cancel()
	wg.Wait()
	waitUntil(t, time.Minute, "the subscribers' consumer to go", func() bool { return consumersOf(t, url) == 0 })
	n.serves(t)
}

// waitSubscribers waits until the node counts want live subscribers of s.
func (n *testNode) waitSubscribers(t *testing.T, want int) {
	t.Helper()
	waitUntil(t, 30*time.Second, fmt.Sprintf("%d subscribers", want), func() bool {
		a := do(t, "GET", n.URL+"/metrics", "")
		for _, line := range strings.Split(string(a.Body), "\n") {
			if strings.HasPrefix(line, `sluice_subscribers{stream="s"} `) {
				v, _ := strconv.ParseFloat(strings.TrimPrefix(line, `sluice_subscribers{stream="s"} `), 64)
				return int(v) == want
			}
		}
		return want == 0
	})
}

func waitUntil(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sseConn is a subscription over a bare connection, read only when asked.
type sseConn struct {
	c net.Conn
	r *bufio.Reader
}

func subscribeRaw(t *testing.T, n *testNode, lastID string) *sseConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(n.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET /v1/streams/s/events HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n", strings.TrimPrefix(n.URL, "http://"))
	if lastID != "" {
		fmt.Fprintf(c, "Last-Event-ID: %s\r\n", lastID)
	}
	fmt.Fprintf(c, "\r\n")
	s := &sseConn{c: c, r: bufio.NewReaderSize(c, 64<<10)}
	resp, err := http.ReadResponse(s.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: %d", resp.StatusCode)
	}
	s.r = bufio.NewReaderSize(resp.Body, 64<<10)
	return s
}

// event reads the next complete event: its id, name and data; io.EOF
// when the server closed the connection.
func (s *sseConn) event() (id, name, data string, err error) {
	name = "message"
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", "", "", io.EOF // an event cut short is no event
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && data != "":
			return id, name, data, nil
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, "event: "):
			name = line[7:]
		case strings.HasPrefix(line, "data: "):
			data += line[6:]
		}
	}
}

// heapOfNode is the live heap, after a collection, outside the embedded
// NATS server's own allocations (its file store caches recently written
// blocks for a few seconds, whoever reads): what sluice and its NATS
// client hold. Node and test share the process; the test holds nothing
// big at the moments it measures.
func heapOfNode(t *testing.T) uint64 {
	t.Helper()
	runtime.GC()
	var buf bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&buf, 1); err != nil {
		t.Fatal(err)
	}
	var total, inuse uint64
	server := false
	flush := func() {
		if !server {
			total += inuse
		}
		inuse, server = 0, false
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "#\t"):
			server = server || strings.Contains(line, "nats-server/v2/server.")
		case strings.Contains(line, " @ "):
			flush()
			// "inuse_objects: inuse_bytes [alloc_objects: alloc_bytes] @ stack"
			f := strings.Fields(line)
			if len(f) > 1 {
				inuse, _ = strconv.ParseUint(f[1], 10, 64)
			}
		case strings.HasPrefix(line, "# runtime.MemStats"):
			flush()
			return total
		}
	}
	flush()
	return total
}

// TestSubscriberThatNeverReads: a subscriber that stops reading while
// 200 MB of events are written does not make the node hold them: it is
// dropped, and resuming with Last-Event-ID continues exactly.
func TestSubscriberThatNeverReads(t *testing.T) {
	defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
	runtime.MemProfileRate = 64 << 10 // every event's buffer is sampled
	n := startNode(t, "reads:\n  tail_bytes: 8MiB\n  max_behind: 4MiB\n  write_timeout: 1m\n")
	before := heapOfNode(t)
	stuck := subscribeRaw(t, n, "")
	n.waitSubscribers(t, 1)
	const events, size = 300, 700 << 10
	text := strings.Repeat("x", size)
	produce := func(first int) {
		var body bytes.Buffer
		for j := first; j < first+10; j++ {
			b, _ := json.Marshal(map[string]any{"id": fmt.Sprint("big-", j), "dt": time.Now().UTC().Format(time.RFC3339Nano), "text": text})
			body.Write(b)
			body.WriteByte('\n')
		}
		if a := do(t, "POST", n.URL+"/v1/streams/s/events", body.String(), "Content-Type", "application/x-ndjson"); a.Status != http.StatusOK {
			t.Fatalf("produce: %d %.300s", a.Status, a.Body)
		}
	}
	var peak uint64
	for i := 0; i < events; i += 10 {
		produce(i)
		if i%30 == 0 {
			peak = max(peak, heapOfNode(t))
		}
	}
	// The tail (and main's per-subscriber consumer) gets the last events a
	// moment after they are stored: measure once they are all in.
	time.Sleep(time.Second)
	peak = max(peak, heapOfNode(t))

	t.Logf("node heap %d MiB before, at most %d MiB while %d MiB were written to a stuck subscriber",
		before>>20, peak>>20, events*size>>20)
	if grew := int64(peak) - int64(before); grew > 48<<20 {
		t.Errorf("the node's heap grew by %d MiB for a subscriber that reads nothing (tail_bytes is 8 MiB)", grew>>20)
	}
	// Now read what reached the client before the node gave up on it.
	var last uint64
	dropped := false
	done := make(chan error, 1)
	go func() {
		for {
			id, name, _, err := stuck.event()
			if err != nil {
				done <- nil
				return
			}
			dropped = dropped || name == "dropped"
			if name == "message" {
				seq, _ := strconv.ParseUint(id, 10, 64)
				if seq != last+1 {
					done <- fmt.Errorf("event %d after %d", seq, last)
					return
				}
				last = seq
			}
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("the subscriber that stopped reading was never dropped (read up to %d)", last)
	}
	// Dropped either way: too far behind once it read again (event:
	// dropped), or at the write timeout if it stayed stuck that long.
	t.Logf("dropped after event %d (event: dropped sent: %v)", last, dropped)
	if last >= events {
		t.Fatalf("the stuck subscriber got all %d events: nothing was bounded", last)
	}
	n.waitSubscribers(t, 0)
	again := subscribeRaw(t, n, strconv.FormatUint(last, 10))
	for want := last + 1; want <= events; want++ {
		id, name, data, err := again.event()
		if err != nil || name != "message" || id != strconv.FormatUint(want, 10) || !strings.Contains(data, fmt.Sprintf(`"big-%d"`, want-1)) {
			t.Fatalf("resumed after %d: got id %q (%s), %v; want %d", last, id, name, err, want)
		}
	}
	// Still serving (the helper's check reads from the start, past 16 MiB here).
	if a := do(t, "POST", n.URL+"/v1/streams/s/events", event("after")); a.Status != http.StatusOK {
		t.Fatalf("produce after: %d %s", a.Status, a.Body)
	}
	if a := do(t, "GET", n.URL+"/v1/streams/s/events?since=301", ""); a.Status != http.StatusOK || !bytes.Contains(a.Body, []byte(`"after"`)) {
		t.Fatalf("read after: %d %.200s", a.Status, a.Body)
	}
}

// TestRawNATSPublishes: messages published straight to the stream's NATS
// subject (no schema, no sluice headers, forged ones, not JSON) are
// skipped by plain reads, flagged in envelopes, and do not break a seek
// by time, pages newest first, or subscriptions.
func TestRawNATSPublishes(t *testing.T) {
	extra, url := natsListen(t)
	n := startNode(t, extra)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	raw := func(h nats.Header, data string) {
		m := nats.NewMsg("sluice.s.s.E")
		m.Header, m.Data = h, []byte(data)
		if _, err := nc.RequestMsg(m, 5*time.Second); err != nil { // answered by the stream: stored
			t.Fatal(err)
		}
	}
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var times []string
	for i := range 6 {
		dt := base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
		times = append(times, dt)
		if a := do(t, "POST", n.URL+"/v1/streams/s/events", fmt.Sprintf(`{"id":"own-%d","dt":%q}`, i, dt)); a.Status != http.StatusOK {
			t.Fatalf("produce: %d %s", a.Status, a.Body)
		}
		raw(nil, "not json")
		raw(nil, "")
		raw(nil, `{"id":"sneaked","dt":"2020-01-01T00:00:00Z"}`)
		raw(nats.Header{"Sluice-Id": {"forged"}, "Sluice-Time": {"1"}, "Sluice-Mark": {"x"}}, `{"id":"forged"}`)
		raw(nats.Header{"Sluice-Id": {"forged"}, "Sluice-Time": {"1"}, "Sluice-Mark": {"1"}}, "{}\nid: 999\ndata: {\"id\":\"injected\"}")
	}
	ownLines := func(what string, body []byte, want int) {
		t.Helper()
		lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
		if len(lines) != want {
			t.Fatalf("%s: %d lines, want %d: %q", what, len(lines), want, body)
		}
		for _, l := range lines {
			var v struct{ ID string }
			if json.Unmarshal([]byte(l), &v) != nil || !strings.HasPrefix(v.ID, "own-") {
				t.Fatalf("%s: line %q is not one of the stream's events", what, l)
			}
		}
	}
	a := do(t, "GET", n.URL+"/v1/streams/s/events?since=earliest", "")
	if a.Status != http.StatusOK {
		t.Fatalf("read: %d %s", a.Status, a.Body)
	}
	ownLines("plain read", a.Body, 6)
	if a.Header.Get("Sluice-Skipped") != "30" {
		t.Errorf("Sluice-Skipped %q, want 30", a.Header.Get("Sluice-Skipped"))
	}
	for i, dt := range times {
		a := do(t, "GET", n.URL+"/v1/streams/s/events?since="+dt, "")
		if a.Status != http.StatusOK {
			t.Fatalf("since=%s: %d %s", dt, a.Status, a.Body)
		}
		ownLines("since="+dt, a.Body, 6-i)
	}
	a = do(t, "GET", n.URL+"/v1/streams/s/events?order=desc&limit=100", "")
	if a.Status != http.StatusOK {
		t.Fatalf("newest first: %d %s", a.Status, a.Body)
	}
	ownLines("newest first", a.Body, 6)
	a = do(t, "GET", n.URL+"/v1/streams/s/events?since=earliest&envelope=true", "")
	lines := strings.Split(strings.TrimSuffix(string(a.Body), "\n"), "\n")
	foreign := 0
	for _, l := range lines {
		var env struct {
			Foreign bool
			Event   json.RawMessage
			Raw     []byte
		}
		if err := json.Unmarshal([]byte(l), &env); err != nil {
			t.Fatalf("envelope %q: %v", l, err)
		}
		if env.Foreign {
			foreign++
		} else if len(env.Event) == 0 {
			t.Fatalf("envelope without its event: %q", l)
		}
	}
	if len(lines) != 36 || foreign != 30 {
		t.Fatalf("envelopes: %d lines, %d foreign; want 36 and 30", len(lines), foreign)
	}
	// A subscription from the start sees the stream's events and nothing else.
	sub := subscribeRaw(t, n, "0")
	for i := range 6 {
		id, name, data, err := sub.event()
		if err != nil || name != "message" || !strings.Contains(data, fmt.Sprintf(`"own-%d"`, i)) || id == "999" {
			t.Fatalf("subscription event %d: id %q %s %q %v", i, id, name, data, err)
		}
	}
	if a := do(t, "GET", n.URL+"/v1/streams/s", ""); a.Status != http.StatusOK {
		t.Fatalf("stream info: %d %s", a.Status, a.Body)
	}
	n.serves(t)
}
