package eventstreams

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"
)

func TestWireFormat(t *testing.T) {
	evs := mustLoad(t, captureFile)
	_, ts := start(t, evs, Options{})
	resp, _ := get(t, ts, "/v2/stream/recentchange")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("%s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	want := ":ok\n\n" +
		"event: message\nid: " + idFor(0) + "\ndata: " + string(evs[0]) + "\n\n" +
		"event: message\nid: " + idFor(1) + "\ndata: " + string(evs[1]) + "\n\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("body starts\n%s\nwant\n%s", got, want)
	}
}

func TestFullReplay(t *testing.T) {
	evs := mustLoad(t, ndjsonFile)
	s, ts := start(t, evs, Options{})
	for _, streams := range []string{"recentchange", "mediawiki.recentchange", "mediawiki.recentchange,mediawiki.revision-create"} {
		c := dial(t, ts, "/v2/stream/"+streams)
		checkRun(t, c.read(t, len(evs)), evs, 0)
		if len(c.comments) != 1 || c.comments[0] != "ok" {
			t.Fatalf("comments %q", c.comments)
		}
		c.close() // at the end of the recording; TestCloseEndsStreams checks it idles

	}
	if s.Connections() != 3 || s.Sent() != 300 {
		t.Fatalf("Connections %d Sent %d", s.Connections(), s.Sent())
	}
	if r := lastRequest(t, s); r.Streams != "mediawiki.recentchange,mediawiki.revision-create" || r.Status != 200 || r.Start != 0 {
		t.Fatalf("request %+v", r)
	}
}

func TestResumeLastEventID(t *testing.T) {
	evs := mustLoad(t, ndjsonFile)
	s, ts := start(t, evs, Options{})
	c := dial(t, ts, "/v2/stream/recentchange")
	first := c.read(t, 10)
	c.close()
	checkRun(t, first, evs, 0)
	last := first[9].ID
	c = dial(t, ts, "/v2/stream/recentchange", "Last-Event-ID", last)
	checkRun(t, c.read(t, 90), evs, 10) // no gap, no repeat, to the end
	if r := lastRequest(t, s); r.LastEventID != last || r.Start != 10 {
		t.Fatalf("request %+v", r)
	}

	// Last-Event-ID wins over since.
	c = dial(t, ts, "/v2/stream/recentchange?since=2023-07-29T07:53:00Z", "Last-Event-ID", idFor(4))
	checkRun(t, c.read(t, 1), evs, 5)

	// The real form: the last seen event time + 1 ms, and another topic at -1.
	ms := dtMs(t, evs[20]) + 1
	realID := `[{"topic":"eqiad.mediawiki.recentchange","partition":0,"timestamp":` + strconv.FormatInt(ms, 10) +
		`},{"topic":"codfw.mediawiki.recentchange","partition":0,"offset":-1}]`
	c = dial(t, ts, "/v2/stream/recentchange", "Last-Event-ID", realID)
	want := firstAtOrAfter(t, evs, ms)
	checkRun(t, c.read(t, 1), evs, want)
	if want <= 20 || dtMs(t, evs[want]) < ms {
		t.Fatalf("timestamp seek to %d", want)
	}

	// Past the end: nothing more, the connection idles.
	c = dial(t, ts, "/v2/stream/recentchange", "Last-Event-ID", idFor(99))
	if r := lastRequest(t, s); r.Start != 100 {
		t.Fatalf("request %+v", r)
	}
	c.close()
}

func TestSince(t *testing.T) {
	evs := mustLoad(t, ndjsonFile)
	s, ts := start(t, evs, Options{})
	at := time.Date(2023, 7, 29, 7, 53, 0, 0, time.UTC)
	cases := []struct {
		since string
		ms    int64
	}{
		{at.Format(time.RFC3339), at.UnixMilli()},
		{"2023-07-29T09:53:00+02:00", at.UnixMilli()},
		{"2023-07-29T07:53:00.000Z", at.UnixMilli()},
		{strconv.FormatInt(dtMs(t, evs[37]), 10), dtMs(t, evs[37])},
		{strconv.FormatInt(dtMs(t, evs[37])+1, 10), dtMs(t, evs[37]) + 1},
		{"2020-01-01T00:00:00Z", 0},
	}
	for _, tc := range cases {
		want := firstAtOrAfter(t, evs, tc.ms)
		if want == 0 && tc.ms != 0 || want == 100 {
			t.Fatalf("since %s: a case that seeks nowhere", tc.since)
		}
		c := dial(t, ts, "/v2/stream/recentchange?since="+url.QueryEscape(tc.since))
		checkRun(t, c.read(t, 1), evs, want)
		c.close()
		if r := lastRequest(t, s); r.Since != tc.since || r.Start != want {
			t.Fatalf("request %+v, want start %d", r, want)
		}
	}
	c := dial(t, ts, "/v2/stream/recentchange?since=2030-01-01T00:00:00Z")
	if r := lastRequest(t, s); r.Start != 100 {
		t.Fatalf("since after the recording: %+v", r)
	}
	c.close()
}

func TestBadRequests(t *testing.T) {
	s, ts := start(t, mustLoad(t, captureFile), Options{})
	for _, tc := range []struct {
		path, lastID string
		status       int
		typ          string
	}{
		{"/v2/stream/recentchange?since=yesterday", "", 400, "invalid_timestamp"},
		{"/v2/stream/recentchange?since=12abc", "", 400, "invalid_timestamp"},
		{"/v2/stream/recentchange?since=99999999999999999", "", 400, "invalid_timestamp"},
		{"/v2/stream/recentchange", "42", 400, "invalid_last_event_id"},
		{"/v2/stream/recentchange", "[{", 400, "invalid_last_event_id"},
		{"/v2/stream/", "", 404, "not_found"},
		{"/v2/stream/a,,b", "", 404, "not_found"},
		{"/nope", "", 404, "not_found"},
	} {
		var h []string
		if tc.lastID != "" {
			h = []string{"Last-Event-ID", tc.lastID}
		}
		resp, _ := get(t, ts, tc.path, h...)
		body, _ := io.ReadAll(resp.Body)
		var doc struct{ Type string }
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" ||
			json.Unmarshal(body, &doc) != nil || doc.Type != tc.typ {
			t.Errorf("%s (Last-Event-ID %q): %s %s", tc.path, tc.lastID, resp.Status, body)
		}
	}
	resp, err := ts.Client().Post(ts.URL+"/v2/stream/recentchange", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %s", resp.Status)
	}
	if r := s.Requests(); len(r) != 5 || r[0].Status != 400 || r[0].Since != "yesterday" || r[3].LastEventID != "42" {
		t.Errorf("recorded %+v", r)
	}
}

func TestSpec(t *testing.T) {
	_, ts := start(t, mustLoad(t, captureFile), Options{})
	resp, _ := get(t, ts, "/?spec")
	var doc struct {
		OpenAPI string                     `json:"openapi"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s: %v", resp.Status, err)
	}
	for _, p := range []string{"/v2/stream/{streams}", "/v2/stream/mediawiki.recentchange", "/v2/stream/recentchange"} {
		if _, ok := doc.Paths[p]; !ok || doc.OpenAPI == "" {
			t.Errorf("spec lacks %s: %v", p, doc)
		}
	}
}

func TestNDJSONAccept(t *testing.T) {
	evs := mustLoad(t, ndjsonFile)
	_, ts := start(t, evs, Options{})
	resp, _ := get(t, ts, "/v2/stream/recentchange?since="+strconv.FormatInt(dtMs(t, evs[50]), 10), "Accept", "application/json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("%s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	want := firstAtOrAfter(t, evs, dtMs(t, evs[50]))
	br := bufio.NewReader(resp.Body)
	for i := want; i < want+3; i++ {
		line, err := br.ReadString('\n')
		if err != nil || line != string(evs[i])+"\n" {
			t.Fatalf("line for event %d: %v %.80q", i, err, line)
		}
	}
}

func TestCloseEndsStreams(t *testing.T) {
	s, ts := start(t, mustLoad(t, captureFile), Options{})
	c := dial(t, ts, "/v2/stream/recentchange")
	c.read(t, 3)
	done := make(chan error, 1)
	go func() { _, err := c.r.Next(); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("an event or an end after the recording: %v", err)
	case <-time.After(50 * time.Millisecond): // idle, as expected
	}
	s.Close()
	if err := <-done; !errors.Is(err, io.EOF) {
		t.Fatalf("after Close: %v, want a clean end", err)
	}
	resp, _ := get(t, ts, "/v2/stream/recentchange")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("after Close: %s", resp.Status)
	}
	s.Close() // twice is fine
}

func TestClientLeaves(t *testing.T) {
	// Without Server.Close, the HTTP server's Close returns only if every
	// handler noticed that its client left: idle at the end, silent, or
	// waiting for its pace.
	for _, o := range []Options{{}, {SilentAfter: 1}, {Rate: 0.001}, {Realtime: true, Loop: true}} {
		s := New(mustLoad(t, captureFile), o)
		defer s.Close() // a failure below must not leave the handlers
		ts := httptest.NewServer(s)
		c := dial(t, ts, "/v2/stream/recentchange")
		c.read(t, 1)
		if o.SilentAfter == 0 && o.Rate == 0 && !o.Realtime { // the zero Options
			c.read(t, 2)
		}
		c.close()
		closed := make(chan struct{})
		go func() { ts.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("%+v: a handler outlives its client", o)
		}
	}
}
