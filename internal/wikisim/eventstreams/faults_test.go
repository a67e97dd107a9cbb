package eventstreams

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestDropEvery(t *testing.T) {
	evs := mustLoad(t, ndjsonFile)
	s, ts := start(t, evs, Options{DropEvery: 5})
	lastID := ""
	for conn := range 3 {
		var h []string
		if lastID != "" {
			h = []string{"Last-Event-ID", lastID}
		}
		c := dial(t, ts, "/v2/stream/recentchange", h...)
		got := c.read(t, 5)
		checkRun(t, got, evs, int64(conn*5))
		lastID = got[4].ID
		// The connection breaks: not a clean end of the response.
		if _, err := c.r.Next(); err == nil || errors.Is(err, io.EOF) {
			t.Fatalf("connection %d after 5 events: %v, want a broken connection", conn, err)
		}
	}
	s.SetDropEvery(0)
	c := dial(t, ts, "/v2/stream/recentchange", "Last-Event-ID", lastID)
	checkRun(t, c.read(t, 85), evs, 15)
	if s.Connections() != 4 || s.Sent() != 100 {
		t.Fatalf("Connections %d Sent %d", s.Connections(), s.Sent())
	}
}

func TestStatus429Every(t *testing.T) {
	evs := mustLoad(t, captureFile)
	s, ts := start(t, evs, Options{Status429Every: 3})
	for attempt := 1; attempt <= 7; attempt++ {
		if attempt == 7 {
			s.SetStatus429Every(0)
		}
		resp, cancel := get(t, ts, "/v2/stream/recentchange")
		if attempt%3 == 0 {
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" ||
				!strings.Contains(string(body), "too_many_requests") {
				t.Fatalf("attempt %d: %s Retry-After %q %s", attempt, resp.Status, resp.Header.Get("Retry-After"), body)
			}
		} else if resp.StatusCode != http.StatusOK {
			t.Fatalf("attempt %d: %s", attempt, resp.Status)
		}
		cancel()
		resp.Body.Close()
	}
	rs := s.Requests()
	if s.Connections() != 7 || len(rs) != 7 || rs[2].Status != 429 || rs[5].Status != 429 || rs[6].Status != 200 {
		t.Fatalf("Connections %d, requests %+v", s.Connections(), rs)
	}
}

func TestSilentAfter(t *testing.T) {
	evs := mustLoad(t, ndjsonFile)
	s, ts := start(t, evs, Options{SilentAfter: 3})
	c := dial(t, ts, "/v2/stream/recentchange")
	checkRun(t, c.read(t, 3), evs, 0)
	got := make(chan error, 1)
	go func() { _, err := c.r.Next(); got <- err }()
	s.SetSilentAfter(0) // a connection already silent stays silent
	select {
	case err := <-got:
		t.Fatalf("a silent connection sent something or ended: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if s.Sent() != 3 {
		t.Fatalf("Sent %d", s.Sent())
	}
	c.close() // the client gives up on the quiet connection
	if err := <-got; err == nil {
		t.Fatal("read after the client left")
	}
	// A new connection, with the fault off, continues where it left off.
	c = dial(t, ts, "/v2/stream/recentchange", "Last-Event-ID", idFor(2))
	checkRun(t, c.read(t, 97), evs, 3)
}

func TestSilentAfterEndsOnClose(t *testing.T) {
	s, ts := start(t, mustLoad(t, captureFile), Options{SilentAfter: 1})
	c := dial(t, ts, "/v2/stream/recentchange")
	c.read(t, 1)
	s.Close()
	if _, err := c.r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("silent connection after Close: %v", err)
	}
}

// Pacing is checked only from below: an event is never early. That cannot
// flake; no upper bound is asserted.
func TestRate(t *testing.T) {
	evs := mustLoad(t, ndjsonFile)
	_, ts := start(t, evs, Options{Rate: 200}) // 5 ms apart
	began := time.Now()
	c := dial(t, ts, "/v2/stream/recentchange")
	checkRun(t, c.read(t, 11), evs, 0)
	if d := time.Since(began); d < 50*time.Millisecond {
		t.Fatalf("11 events at 200/s took %v, want at least 50ms", d)
	}
}

func TestRealtime(t *testing.T) {
	evs := [][]byte{
		[]byte(`{"meta":{"id":"a","dt":"2024-01-01T00:00:00.000Z"}}`),
		[]byte(`{"meta":{"id":"b","dt":"2024-01-01T00:00:00.060Z"}}`),
		[]byte(`{"meta":{"id":"c","dt":"2024-01-01T00:00:00.030Z"}}`), // out of order: no wait
		[]byte(`{"meta":{"id":"d","dt":"2024-01-01T00:00:00.100Z"}}`),
	}
	_, ts := start(t, evs, Options{Realtime: true, Rate: 1e9})
	began := time.Now()
	c := dial(t, ts, "/v2/stream/recentchange")
	checkRun(t, c.read(t, 4), evs, 0)
	if d := time.Since(began); d < 130*time.Millisecond {
		t.Fatalf("gaps of 60, 0 and 70 ms took %v", d)
	}
}
