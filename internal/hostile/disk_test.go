package hostile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/cli"
	"github.com/sluice-dev/sluice/internal/testenv"
	"github.com/sluice-dev/sluice/internal/wikisim/eventstreams"
)

// A full disk (issue #12): the store limit and the disk reserve are the
// node's own, out of space answers 507 naming the cause, /readyz says not
// ready, an answer of failure lists exactly what was stored, and all of it
// recovers by itself when space returns: produce, a source and a pipeline,
// losing nothing.

// bigEvent is an event of about 1 KB whose text follows from its id, so a
// corrupted copy shows.
func bigEvent(id string) string {
	b, _ := json.Marshal(map[string]any{"id": id, "dt": time.Now().UTC().Format(time.RFC3339Nano), "text": bigText(id)})
	return string(b)
}

func bigText(id string) string { return strings.Repeat(id+" ", 1000/(len(id)+1)+1)[:1000] }

func diskIDs(prefix string, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, from+i)
	}
	return out
}

// produceAll posts the events as NDJSON and returns the answer and the ids
// the answer lists as stored (all of them for a 200).
func (n *testNode) produceAll(t *testing.T, stream string, batch []string) (answer, []string) {
	t.Helper()
	var body strings.Builder
	for _, id := range batch {
		body.WriteString(bigEvent(id) + "\n")
	}
	a := do(t, "POST", n.URL+"/v1/streams/"+stream+"/events", body.String(), "Content-Type", "application/x-ndjson")
	switch a.Status {
	case http.StatusOK:
		return a, batch
	case http.StatusInsufficientStorage:
		var p struct {
			Events []struct {
				Index int    `json:"index"`
				Seq   uint64 `json:"seq"`
			} `json:"events"`
		}
		if err := json.Unmarshal(a.Body, &p); err != nil {
			t.Fatalf("507 body: %v: %s", err, a.Body)
		}
		var stored []string
		for _, e := range p.Events {
			if e.Seq == 0 {
				t.Fatalf("event %d listed as stored without a seq: %s", e.Index, a.Body)
			}
			stored = append(stored, batch[e.Index])
		}
		return a, stored
	}
	t.Fatalf("produce: %d %.500s", a.Status, a.Body)
	return a, nil
}

// outOfSpace checks a 507 problem document naming cause, and returns it.
func outOfSpace(t *testing.T, a answer, cause string) map[string]any {
	t.Helper()
	if a.Status != http.StatusInsufficientStorage || a.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("want 507 application/problem+json, got %d %s: %.300s", a.Status, a.Header.Get("Content-Type"), a.Body)
	}
	p := a.JSON(t)
	if p["cause"] != cause || p["title"] != "Insufficient storage" || !strings.Contains(p["detail"].(string), "not stored") {
		t.Fatalf("want a 507 naming %s, got %s", cause, a.Body)
	}
	if ns, ok := p["not_stored"].(map[string]any); !ok || ns["reason"] == "" {
		t.Fatalf("the answer names no first event not stored: %s", a.Body)
	}
	return p
}

// notReadyFor checks that /readyz answers 503 naming cause.
func (n *testNode) notReadyFor(t *testing.T, cause string) {
	t.Helper()
	a := do(t, "GET", n.URL+"/readyz", "")
	if a.Status != http.StatusServiceUnavailable || a.JSON(t)["cause"] != cause {
		t.Fatalf("readyz while out of space (%s): %d %s", cause, a.Status, a.Body)
	}
}

// diskWait polls cond for up to two minutes.
func diskWait(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 2*time.Minute {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not %s after two minutes", what)
	return 0
}

// readBack reads a whole stream back over HTTP: its events' ids in stream
// order; each event's text must be the one its id was sent with.
func (n *testNode) readBack(t *testing.T, stream string) []string {
	t.Helper()
	var out []string
	for next := "earliest"; ; {
		a := do(t, "GET", n.URL+"/v1/streams/"+stream+"/events?limit=10000&since="+next, "")
		if a.Status != http.StatusOK {
			t.Fatalf("read %s: %d %s", stream, a.Status, a.Body)
		}
		lines := bytes.Split(bytes.TrimSpace(a.Body), []byte("\n"))
		if len(a.Body) == 0 {
			return out
		}
		for _, l := range lines {
			var e struct{ ID, Text string }
			if err := json.Unmarshal(l, &e); err != nil || e.Text != bigText(e.ID) {
				t.Fatalf("stream %s holds a damaged event: %.200s", stream, l)
			}
			out = append(out, e.ID)
		}
		next = a.Header.Get("Sluice-Next")
	}
}

// sameIDs checks that got holds exactly want, once each.
func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, id := range want {
		if seen[id] != 1 {
			t.Fatalf("%s: %s is there %d times, want once", what, id, seen[id])
		}
		delete(seen, id)
	}
	for id := range seen {
		t.Fatalf("%s: %s is there but no answer said it was stored", what, id)
	}
}

// The store limit: one batch larger than nats.max_store is stored as far as
// it fits, the 507 lists exactly those events with their seqs; deleting a
// stream frees the store and produce goes on, without a restart.
func TestFullStoreLimit(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.json"), []byte(eventSchema), 0o644); err != nil {
		t.Fatal(err)
	}
	n := startConfig(t, dir, "nats: {max_store: 3MiB}\nstreams:\n"+
		"  s: {schema: s.json, id: /id, time: /dt}\n  filler: {schema: s.json, id: /id, time: /dt}\n")
	if a, _ := n.produceAll(t, "filler", diskIDs("f", 0, 1000)); a.Status != http.StatusOK {
		t.Fatalf("filler: %d", a.Status)
	}
	batch := diskIDs("e", 0, 3000) // 3 MB, more than is left
	a, stored := n.produceAll(t, "s", batch)
	p := outOfSpace(t, a, "store_limit")
	if len(stored) == 0 || len(stored) == len(batch) || p["accepted"].(float64) != float64(len(stored)) {
		t.Fatalf("a batch over the store limit: %d of %d listed as stored; want a part: %.300s", len(stored), len(batch), a.Body)
	}
	if p["max_store"].(float64) != 3<<20 || p["stored_bytes"].(float64) < 3<<20 {
		t.Fatalf("the 507 gives the figures %v of %v", p["stored_bytes"], p["max_store"])
	}
	if first := p["not_stored"].(map[string]any)["index"].(float64); int(first) != len(stored) {
		t.Fatalf("the first event not stored is %v; %d were stored", first, len(stored))
	}
	got := n.readBack(t, "s")
	sameIDs(t, "stream s after a 507", got, stored)
	for i, id := range got {
		if id != batch[i] {
			t.Fatalf("event %d in the stream is %s, want %s: the stored ones are the batch's first", i, id, batch[i])
		}
	}
	n.notReadyFor(t, "store_limit")
	if a, more := n.produceAll(t, "s", diskIDs("x", 0, 5)); len(more) != 0 {
		t.Fatalf("over the limit, %d stored: %d %s", len(more), a.Status, a.Body)
	}

	if a := do(t, "DELETE", n.URL+"/v1/streams/filler", ""); a.Status != http.StatusNoContent {
		t.Fatalf("delete filler: %d %s", a.Status, a.Body)
	}
	took := diskWait(t, "ready", func() bool { return do(t, "GET", n.URL+"/readyz", "").Status == http.StatusOK })
	rest := batch[len(stored) : len(stored)+200]
	if a, _ := n.produceAll(t, "s", rest); a.Status != http.StatusOK {
		t.Fatalf("after space returned: %d %s", a.Status, a.Body)
	}
	sameIDs(t, "stream s", n.readBack(t, "s"), append(stored, rest...))
	n.serves(t)
	t.Logf("%d of %d events stored before the limit; ready %v after a stream was deleted", len(stored), len(batch), took)
}

// diskNode starts a node whose data directory is on a tmpfs of size bytes,
// with the stream s fed by an SSE source (feed events f-0...), a pipeline
// copying s to the stream out, and the given nats settings. The feed sends
// nothing until open is called.
func diskNode(t *testing.T, size int64, nats string, feed int) (n *testNode, disk string, open func()) {
	t.Helper()
	disk = testenv.Tmpfs(t, size)
	evs := make([][]byte, feed)
	for i, id := range diskIDs("f", 0, feed) {
		evs[i] = []byte(bigEvent(id))
	}
	es := eventstreams.New(evs, eventstreams.Options{Rate: 1000})
	gate := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-gate:
			es.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(es.Close)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.json"), []byte(eventSchema), 0o644); err != nil {
		t.Fatal(err)
	}
	return startConfig(t, dir, fmt.Sprintf(`data: %s
nats: %s
streams:
  s: {schema: s.json, id: /id, time: /dt}
  out: {schema: s.json, id: /id, time: /dt}
sources:
  feed:
    sse: {url: %q, user_agent: sluice-test, max_backoff: 200ms, idle_timeout: 10s}
    to: s
    drop: "false"
pipelines:
  copy:
    from: s
    start: earliest
    function: {name: identity}
    to: [{stream: out}]
`, filepath.Join(disk, "data"), nats, ts.URL+"/v2/stream/test")), disk, func() { close(gate) }
}

// diskStatus is a source's or a pipeline's state and last error.
func (n *testNode) diskStatus(t *testing.T, path string) (state, lastError string) {
	t.Helper()
	a := do(t, "GET", n.URL+path, "")
	if a.Status != http.StatusOK {
		t.Fatalf("%s: %d %s", path, a.Status, a.Body)
	}
	m := a.JSON(t)
	s, _ := m["state"].(string)
	e, _ := m["last_error"].(string)
	return s, e
}

// recoveredFromDisk waits until the feed is stored whole in s, in feed order, with
// exactly the produced events the answers listed, and the pipeline has
// copied all of s to out.
func (n *testNode) recoveredFromDisk(t *testing.T, feed int, produced []string) {
	t.Helper()
	want := len(produced) + feed
	diskWait(t, "all stored", func() bool { return n.count(t, "s") >= uint64(want) })
	got := n.readBack(t, "s")
	sameIDs(t, "stream s", got, append(diskIDs("f", 0, feed), produced...))
	next := 0
	for _, id := range got {
		if strings.HasPrefix(id, "f-") {
			if id != fmt.Sprintf("f-%d", next) {
				t.Fatalf("the source stored %s after f-%d: a gap or out of order", id, next-1)
			}
			next++
		}
	}
	diskWait(t, "copied", func() bool { return n.count(t, "out") >= uint64(want) })
	sameIDs(t, "stream out", n.readBack(t, "out"), got)
}

// The disk reserve: when something else fills the disk, appends stop while
// min_free_disk is still free; produce, the source and the pipeline say why,
// and all go on once the file is deleted.
func TestFullDiskReserve(t *testing.T) {
	const feed = 1500
	n, disk, open := diskNode(t, 24<<20, "{min_free_disk: 4MiB}", feed)
	if a := do(t, "POST", n.URL+"/v1/pipelines/copy/pause", ""); a.Status != http.StatusOK {
		t.Fatalf("pause: %d %s", a.Status, a.Body)
	}
	var produced []string
	a, stored := n.produceAll(t, "s", diskIDs("h", 0, 20))
	if a.Status != http.StatusOK {
		t.Fatalf("produce: %d", a.Status)
	}
	produced = append(produced, stored...)
	fill := testenv.Fill(t, disk, "fill", 3<<20)

	a, stored = n.produceAll(t, "s", diskIDs("h", 20, 20))
	p := outOfSpace(t, a, "disk_reserve")
	if len(stored) != 0 || p["min_free_disk"].(float64) != 4<<20 || p["free_bytes"].(float64) > 3<<20 {
		t.Fatalf("below the reserve: %d stored, figures %v free of %v kept: %s", len(stored), p["free_bytes"], p["min_free_disk"], a.Body)
	}
	n.notReadyFor(t, "disk_reserve")
	var out bytes.Buffer
	if code := cli.Execute([]string{"--server", n.URL, "produce", "s", diskEventsFile(t, diskIDs("c", 0, 3))}, &out, &out); code == 0 ||
		!strings.Contains(out.String(), "Insufficient storage (507)") {
		t.Fatalf("sluice produce below the reserve: exit %d: %s", code, out.String())
	}
	// The pipeline resumes with inputs to copy, the feed begins: both are
	// refused, and say why.
	open()
	if a := do(t, "POST", n.URL+"/v1/pipelines/copy/resume", ""); a.Status != http.StatusOK {
		t.Fatalf("resume: %d %s", a.Status, a.Body)
	}
	for _, path := range []string{"/v1/sources/feed", "/v1/pipelines/copy"} {
		diskWait(t, path+" reporting the reserve", func() bool {
			_, e := n.diskStatus(t, path)
			return strings.Contains(e, "below the reserve")
		})
	}

	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	took := diskWait(t, "ready", func() bool { return do(t, "GET", n.URL+"/readyz", "").Status == http.StatusOK })
	a, stored = n.produceAll(t, "s", diskIDs("h", 20, 20))
	if a.Status != http.StatusOK {
		t.Fatalf("after the file was deleted: %d %s", a.Status, a.Body)
	}
	produced = append(produced, stored...)
	n.recoveredFromDisk(t, feed, produced)
	t.Logf("ready %v after the file was deleted", took)
}

// A disk full for real (no reserve: the write that hits ENOSPC fails inside
// JetStream): produce answers 507 at once instead of hanging, the answers
// list exactly what was stored, and once the file is deleted the store is
// reopened in the same process and everything goes on, losing nothing.
func TestFullDiskENOSPC(t *testing.T) {
	const feed = 3000
	n, disk, open := diskNode(t, 24<<20, "{min_free_disk: 0}", feed)
	fill := testenv.Fill(t, disk, "fill", 2<<20)
	open() // the feed is larger than what is left
	var produced []string
	var full answer
	var answeredIn time.Duration
	for i := 0; full.Status == 0; i += 20 {
		start := time.Now()
		a, stored := n.produceAll(t, "s", diskIDs("h", i, 20))
		produced = append(produced, stored...)
		if a.Status == http.StatusInsufficientStorage {
			full, answeredIn = a, time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	outOfSpace(t, full, "disk_full")
	n.notReadyFor(t, "disk_full")
	a, stored := n.produceAll(t, "s", diskIDs("late", 0, 5))
	outOfSpace(t, a, "disk_full")
	if len(stored) != 0 {
		t.Fatalf("%d events stored on a full disk", len(stored))
	}
	diskWait(t, "the source reporting the full disk", func() bool {
		_, e := n.diskStatus(t, "/v1/sources/feed")
		return strings.Contains(e, "out of storage space") && strings.Contains(e, "is full")
	})

	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	took := diskWait(t, "ready", func() bool { return do(t, "GET", n.URL+"/readyz", "").Status == http.StatusOK })
	n.recoveredFromDisk(t, feed, produced)
	n.serves(t)
	t.Logf("507 disk_full in %v, after %d produced events; ready %v after the file was deleted", answeredIn, len(produced), took)
}

// diskEventsFile writes events to a file for sluice produce.
func diskEventsFile(t *testing.T, batch []string) string {
	t.Helper()
	var b strings.Builder
	for _, id := range batch {
		b.WriteString(bigEvent(id) + "\n")
	}
	path := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
