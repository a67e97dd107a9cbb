package hostile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The produce path and request parsing: hostile bodies, ids, keys, media
// types and names. Each case checks the answer, that nothing (or exactly
// what should be) was stored, and that the node still serves.

const dt = "2024-05-01T00:00:00Z"

// problemOf checks an answer is a problem document of the status.
func problemOf(t *testing.T, a answer, status int) map[string]any {
	t.Helper()
	if a.Status != status || a.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("answer %d %s, want %d problem+json: %.500s", a.Status, a.Header.Get("Content-Type"), status, a.Body)
	}
	return a.JSON(t)
}

// firstError is invalid[0].errors[0] of a produce answer, and invalid[0].index.
func firstError(t *testing.T, m map[string]any) (index float64, pointer, keyword string) {
	t.Helper()
	inv, _ := m["invalid"].([]any)
	if len(inv) == 0 {
		t.Fatalf("no invalid events listed: %v", m)
	}
	first := inv[0].(map[string]any)
	e := first["errors"].([]any)[0].(map[string]any)
	return first["index"].(float64), e["pointer"].(string), e["keyword"].(string)
}

// counter sums a counter of the node's metrics over the series whose
// labels include the given ones.
func (n *testNode) counter(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := n.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestHugeNumbers: 1e999999 in an integer field made the validator build a
// million-digit integer (~0.1 CPU-second) per event, and was accepted.
// Now the number is refused on its text, naming the event, the pointer and
// the rule, and nothing is stored.
func TestHugeNumbers(t *testing.T) {
	n := startNode(t, "")
	var body strings.Builder
	for i := range 40 {
		fmt.Fprintf(&body, `{"id":"big-%d","dt":%q,"n":1e999999}`+"\n", i, dt)
	}
	a := do(t, "POST", n.URL+"/v1/streams/s/events", body.String(), "Content-Type", "application/x-ndjson")
	m := problemOf(t, a, http.StatusBadRequest)
	if i, ptr, kw := firstError(t, m); i != 0 || ptr != "/n" || kw != "sluice.number" || m["invalid_count"] != 40.0 {
		t.Fatalf("want event 0 /n sluice.number of 40: %d %s %s %v", int(i), ptr, kw, m["invalid_count"])
	}
	for _, num := range []string{"1e-999999", "-1E+5000", strings.Repeat("9", 5000), "0." + strings.Repeat("0", 200) + "1"} {
		a := do(t, "POST", n.URL+"/v1/streams/s/events", fmt.Sprintf(`{"id":"x","dt":%q,"meta":{"v":[%s]}}`, dt, num))
		if _, ptr, kw := firstError(t, problemOf(t, a, http.StatusBadRequest)); ptr != "/meta/v/0" || kw != "sluice.number" {
			t.Fatalf("%.20s: %s %s", num, ptr, kw)
		}
	}
	if got := n.count(t, "s"); got != 0 {
		t.Fatalf("stored %d events", got)
	}
	n.serves(t)
}

// TestClientLeavesStopsWork: a client that gives up stops the node's work
// on its request; before, all of it went on (40 huge numbers: 21.7 s).
// The body is 100,000 events the schema refuses; the test leaves as
// soon as the node has refused some, and checks the node stopped far short
// of the end (the events-refused counter, not a clock).
func TestClientLeavesStopsWork(t *testing.T) {
	const events = 100_000 // the most one request may hold by default
	n := startNode(t, "")
	var body bytes.Buffer
	for i := range events {
		fmt.Fprintf(&body, `{"id":"e%d","dt":%q,"n":"not a number","bot":"no","text":5}`+"\n", i, dt)
	}
	rejected := func() float64 { return n.counter(t, "sluice_events_rejected_total", map[string]string{"stream": "s"}) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", n.URL+"/v1/streams/s/events", bytes.NewReader(body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			err = fmt.Errorf("the request ended with %d before the client left", resp.StatusCode)
		}
		done <- err
	}()
	for deadline := time.Now().Add(60 * time.Second); rejected() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the node never started on the request")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	// Wait until the count stops moving, then it must be far from the end.
	last := rejected()
	for still, deadline := 0, time.Now().Add(2*time.Minute); still < 5; {
		time.Sleep(100 * time.Millisecond)
		if now := rejected(); now != last {
			last, still = now, 0
		} else {
			still++
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node still works on the request: %v of %d refused", last, events)
		}
	}
	if last >= events {
		t.Fatalf("the node checked all %d events although the client left", events)
	}
	t.Logf("the node stopped after %v of %d events", last, events)
	if got := n.count(t, "s"); got != 0 {
		t.Fatalf("stored %d events", got)
	}
	n.serves(t)
}

// TestMillionInvalidEvents: {}\n x 10^6 answered 113 MB and peaked at 2.4 GiB.
// Now the body is refused whole past limits.max_events_per_request (413,
// naming the limit), and a body within it lists the first 100 refusals
// and counts the rest.
func TestMillionInvalidEvents(t *testing.T) {
	n := startNode(t, "")
	a := do(t, "POST", n.URL+"/v1/streams/s/events", strings.Repeat("{}\n", 1_000_000), "Content-Type", "application/x-ndjson")
	m := problemOf(t, a, http.StatusRequestEntityTooLarge)
	if m["limit"] != 100000.0 || !strings.Contains(m["detail"].(string), "limits.max_events_per_request") {
		t.Fatalf("413 does not name the limit: %v", m)
	}
	a = do(t, "POST", n.URL+"/v1/streams/s/events", strings.Repeat("{}\n", 100_000), "Content-Type", "application/x-ndjson")
	m = problemOf(t, a, http.StatusBadRequest)
	if inv := m["invalid"].([]any); len(inv) != 100 || m["invalid_count"] != 100000.0 {
		t.Fatalf("listed %d of %v", len(inv), m["invalid_count"])
	}
	if i, ptr, kw := firstError(t, m); i != 0 || ptr != "" || kw != "required" {
		t.Fatalf("first: %v %s %s", i, ptr, kw)
	}
	if len(a.Body) > 64<<10 {
		t.Fatalf("the answer is %d bytes", len(a.Body))
	}
	// The same as a JSON array.
	a = do(t, "POST", n.URL+"/v1/streams/s/events", "["+strings.Repeat("{},", 100_000)+"{}]")
	problemOf(t, a, http.StatusRequestEntityTooLarge)
	if got := n.count(t, "s"); got != 0 {
		t.Fatalf("stored %d events", got)
	}
	n.serves(t)
}

// TestIDsAreExact: the NATS client trimmed Nats-Msg-Id, so "w1" and "w1 "
// were one id, "x\n" was "x", and "  " was no id (never de-duplicated).
func TestIDsAreExact(t *testing.T) {
	n := startNode(t, "")
	produce := func(id string) (stored, dup float64) {
		a := do(t, "POST", n.URL+"/v1/streams/s/events", event(id))
		if a.Status != http.StatusOK {
			t.Fatalf("%q: %d %s", id, a.Status, a.Body)
		}
		m := a.JSON(t)
		return m["accepted"].(float64) - m["duplicates"].(float64), m["duplicates"].(float64)
	}
	ids := []string{"w1", "w1 ", " w1", "x", "x\n", "x\r\n", "  ", "%", "%25"}
	for _, id := range ids {
		if stored, _ := produce(id); stored != 1 {
			t.Fatalf("%q was taken for a duplicate of an id before it", id)
		}
	}
	for _, id := range ids {
		if _, dup := produce(id); dup != 1 {
			t.Fatalf("%q sent again was stored again", id)
		}
	}
	if got := n.count(t, "s"); got != uint64(len(ids)) {
		t.Fatalf("stored %d events, want %d", got, len(ids))
	}
	// Readers see each id as it was sent.
	a := do(t, "GET", n.URL+"/v1/streams/s/events?since=earliest&envelope=true", "")
	var got []string
	for _, line := range bytes.Split(bytes.TrimSpace(a.Body), []byte("\n")) {
		var e struct{ ID string }
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		got = append(got, e.ID)
	}
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", ids) {
		t.Fatalf("ids read back %q, want %q", got, ids)
	}
	n.serves(t)
}

// TestDuplicateKeys: {"bot":"yes","bot":false} was checked on the last
// value while the raw text, with both, was stored.
func TestDuplicateKeys(t *testing.T) {
	n := startNode(t, "")
	for body, ptr := range map[string]string{
		`{"id":"d1","dt":"` + dt + `","bot":"yes","bot":false}`:                     "/bot",
		`{"id":"d2","dt":"` + dt + `","meta":{"a":[{"b~/":1,"b~/":2}]}}`:            "/meta/a/0/b~0~1",
		`{"id":"d3","dt":"` + dt + `","id":"d4"}`:                                   "/id",
		`{"id":"d5","dt":"` + dt + `","text":"a","\u0074ext":"b"}`:                  "/text",
		`[{"id":"d6","dt":"` + dt + `"},{"id":"d7","dt":"` + dt + `","n":1,"n":2}]`: "/n",
	} {
		a := do(t, "POST", n.URL+"/v1/streams/s/events", body)
		m := a.JSON(t)
		if a.Status == http.StatusMultiStatus { // the array: d6 is valid and stored
			if _, p, kw := firstError(t, m); p != ptr || kw != "sluice.duplicate_key" {
				t.Fatalf("%s: %s %s", body, p, kw)
			}
			continue
		}
		if _, p, kw := firstError(t, problemOf(t, a, http.StatusBadRequest)); p != ptr || kw != "sluice.duplicate_key" {
			t.Fatalf("%s: %s %s", body, p, kw)
		}
	}
	if got := n.count(t, "s"); got != 1 {
		t.Fatalf("stored %d events, want only d6", got)
	}
	n.serves(t)
}

// TestContentType: text/plain, images and forms were parsed as JSON.
func TestContentType(t *testing.T) {
	n := startNode(t, "")
	for _, ct := range []string{"text/plain", "image/png", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
		"application/json; charset=utf-16", "application/xml", ""} {
		hdr := []string{"Content-Type", ct}
		a := do(t, "POST", n.URL+"/v1/streams/s/events", event("ct-"+ct), hdr...)
		if m := problemOf(t, a, http.StatusUnsupportedMediaType); !strings.Contains(m["detail"].(string), "application/json") {
			t.Fatalf("%q: %v", ct, m)
		}
		a = do(t, "POST", n.URL+"/v1/streams", `{"name":"other","schema":{"type":"object"},"id":"/id","time":"/dt"}`, hdr...)
		problemOf(t, a, http.StatusUnsupportedMediaType)
		a = do(t, "PUT", n.URL+"/v1/streams/s/schema", `{"schema":{"type":"object"}}`, hdr...)
		problemOf(t, a, http.StatusUnsupportedMediaType)
		a = do(t, "POST", n.URL+"/v1/functions/jq/invoke", `{"config":{"program":"."},"events":[{}]}`, hdr...)
		problemOf(t, a, http.StatusUnsupportedMediaType)
	}
	// The accepted types still are.
	for i, ct := range []string{"application/json", "application/json; charset=UTF-8", "application/x-ndjson", "application/jsonl"} {
		if a := do(t, "POST", n.URL+"/v1/streams/s/events", event(fmt.Sprint("ok-", i)), "Content-Type", ct); a.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", ct, a.Status, a.Body)
		}
	}
	if got := n.count(t, "s"); got != 4 {
		t.Fatalf("stored %d events, want the 4 of accepted types", got)
	}
	if a := do(t, "GET", n.URL+"/v1/streams/other", ""); a.Status != http.StatusNotFound {
		t.Fatalf("a stream was created from a text/plain body: %d", a.Status)
	}
	n.serves(t)
}

// TestBadNames: names that break the name rule reached NATS and answered
// 500 with its error text. Every route with a name answers 400 or 404 now,
// and no answer carries internal text.
func TestBadNames(t *testing.T) {
	n := startNode(t, "")
	names := []string{"a b", "x!y", ">", "*", "a.>", "a..b", "a.", ".a", "é", "s\x00", "UPPER", strings.Repeat("a", 129), "a/b"}
	for _, name := range names {
		p := url.PathEscape(name)
		for _, rq := range [][3]string{
			{"GET", "/v1/streams/" + p, ""},
			{"DELETE", "/v1/streams/" + p, ""},
			{"GET", "/v1/streams/" + p + "/events", ""},
			{"GET", "/v1/streams/" + p + "/versions/1", ""},
			{"POST", "/v1/streams/" + p + "/events", event("n1")},
			{"PUT", "/v1/streams/" + p + "/schema", `{"schema":{"type":"object"}}`},
			{"POST", "/v1/streams", fmt.Sprintf(`{"name":%q,"schema":{"type":"object"}}`, name)},
			{"GET", "/v1/pipelines/" + p, ""},
			{"POST", "/v1/pipelines/" + p + "/pause", ""},
			{"POST", "/v1/pipelines/" + p + "/redrive", ""},
			{"POST", "/v1/pipelines/" + p + "/reset?to=earliest", ""},
			{"POST", "/v1/pipelines/" + p + "/invoke", `{"events":[{}]}`},
			{"GET", "/v1/sources/" + p, ""},
			{"POST", "/v1/sources/" + p + "/resume", ""},
			{"GET", "/v1/tables/" + p, ""},
			{"GET", "/v1/tables/" + p + "/keys/k", ""},
			{"POST", "/v1/tables/" + p + "/rebuild", ""},
			{"POST", "/v1/functions/" + p + "/invoke", `{"events":[{}]}`},
		} {
			a := do(t, rq[0], n.URL+rq[1], rq[2])
			if a.Status != http.StatusBadRequest && a.Status != http.StatusNotFound {
				t.Errorf("%s %s: %d %.300s", rq[0], rq[1], a.Status, a.Body)
				continue
			}
			if low := strings.ToLower(string(a.Body)); strings.Contains(low, "nats") || strings.Contains(low, "subject") {
				t.Errorf("%s %s leaks the engine's words: %s", rq[0], rq[1], a.Body)
			}
		}
	}
	// A name within the rule that names nothing is 404.
	if a := do(t, "GET", n.URL+"/v1/streams/no.such-stream", ""); a.Status != http.StatusNotFound {
		t.Fatalf("unknown stream: %d", a.Status)
	}
	if a := do(t, "GET", n.URL+"/v1/streams/a%20b", ""); !strings.Contains(string(a.Body), "[a-z0-9._-]") {
		t.Fatalf("400 does not name the rule: %s", a.Body)
	}
	if got := n.count(t, "s"); got != 0 {
		t.Fatalf("stored %d events", got)
	}
	n.serves(t)
}

// TestRawMessageKeepsMark: a message published straight into the stream's
// NATS subject (no Sluice-Mark header, not JSON) made the next node to
// produce restart the running time mark at 0, breaking the monotonic mark
// time seeks rely on.
func TestRawMessageKeepsMark(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	a := startNode(t, "nats:\n  listen: "+addr+"\n")
	late := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if r := do(t, "POST", a.URL+"/v1/streams/s/events", fmt.Sprintf(`{"id":"late","dt":%q}`, late.Format(time.RFC3339))); r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	nc, err := nats.Connect("nats://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := js.Publish(context.Background(), "sluice.s.s.E", []byte("not json")); err != nil {
			t.Fatal(err)
		}
	}
	nc.Close()
	// Another node on the same NATS: its mark is not loaded yet.
	b := startNode(t, "nats:\n  url: nats://"+addr+"\n")
	r := do(t, "POST", b.URL+"/v1/streams/s/events", fmt.Sprintf(`{"id":"early","dt":%q}`, late.AddDate(-1, 0, 0).Format(time.RFC3339)))
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	seq := uint64(r.JSON(t)["events"].([]any)[0].(map[string]any)["seq"].(float64))
	m, err := b.Engine.Get(context.Background(), "s", seq)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := strconv.ParseInt(m.Header["Sluice-Mark"], 10, 64); got != late.UnixNano() {
		t.Fatalf("mark after the raw messages: %d, want %d (the mark before them)", got, late.UnixNano())
	}
	if got := b.count(t, "s"); got != 5 {
		t.Fatalf("stored %d messages, want 5", got)
	}
	b.serves(t)
}
