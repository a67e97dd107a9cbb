package eventstreams

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/sse"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	ndjsonFile  = "../../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson"
	captureFile = "../../../testdata/recentchange/capture-2022-12-11.sse"
)

func mustLoad(t *testing.T, paths ...string) [][]byte {
	t.Helper()
	evs, err := Load(paths...)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// start serves New(evs, o) on loopback; at cleanup the Server closes first
// (ending open streams), then the HTTP server.
func start(t *testing.T, evs [][]byte, o Options) (*Server, *httptest.Server) {
	t.Helper()
	s := New(evs, o)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	t.Cleanup(s.Close)
	return s, ts
}

// conn is one client connection read with the internal/sse reader.
type conn struct {
	resp     *http.Response
	r        *sse.Reader
	comments []string
	cancel   context.CancelFunc
}

// get sends GET path with headers given as name, value pairs.
func get(t *testing.T, ts *httptest.Server, path string, header ...string) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	return resp, cancel
}

// dial opens a stream and checks that it is an event stream.
func dial(t *testing.T, ts *httptest.Server, path string, header ...string) *conn {
	t.Helper()
	resp, cancel := get(t, ts, path, header...)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", path, resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	c := &conn{resp: resp, r: sse.NewReader(resp.Body, 0), cancel: cancel}
	c.r.Comments = func(s string) { c.comments = append(c.comments, s) }
	return c
}

// close leaves, like a client that hangs up.
func (c *conn) close() { c.cancel(); c.resp.Body.Close() }

func (c *conn) next(t *testing.T) sse.Event {
	t.Helper()
	e, err := c.r.Next()
	if err != nil {
		t.Fatalf("after %d comments: %v", len(c.comments), err)
	}
	return e
}

func (c *conn) read(t *testing.T, n int) []sse.Event {
	t.Helper()
	out := make([]sse.Event, n)
	for i := range out {
		out[i] = c.next(t)
	}
	return out
}

func idFor(n int64) string {
	return fmt.Sprintf(`[{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":%d}]`, n)
}

// checkRun checks that evs are the replay offsets from..from+len(evs)-1 of
// recorded (without Loop), ids and data.
func checkRun(t *testing.T, evs []sse.Event, recorded [][]byte, from int64) {
	t.Helper()
	for i, e := range evs {
		n := from + int64(i)
		if e.Type != "message" || e.ID != idFor(n) {
			t.Fatalf("event %d: type %q id %s, want offset %d", i, e.Type, e.ID, n)
		}
		if string(e.Data) != string(recorded[n]) {
			t.Fatalf("event %d (offset %d): data differs from the recording", i, n)
		}
	}
}

type metaOf struct {
	Meta struct {
		ID     string `json:"id"`
		DT     string `json:"dt"`
		Domain string `json:"domain"`
	} `json:"meta"`
	Timestamp int64 `json:"timestamp"`
}

func decode(t *testing.T, b []byte) metaOf {
	t.Helper()
	var m metaOf
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

func dtMs(t *testing.T, b []byte) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, decode(t, b).Meta.DT)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixMilli()
}

// firstAtOrAfter is the index of the first event whose meta.dt >= ms, or
// len(evs).
func firstAtOrAfter(t *testing.T, evs [][]byte, ms int64) int64 {
	t.Helper()
	for i, e := range evs {
		if dtMs(t, e) >= ms {
			return int64(i)
		}
	}
	return int64(len(evs))
}

// lastRequest is what the server recorded for the latest stream request.
func lastRequest(t *testing.T, s *Server) Request {
	t.Helper()
	rs := s.Requests()
	if len(rs) == 0 {
		t.Fatal("no request recorded")
	}
	return rs[len(rs)-1]
}
