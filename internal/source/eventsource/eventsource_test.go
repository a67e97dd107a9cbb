package eventsource

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/source"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidate(t *testing.T) {
	for cfg, want := range map[Config]string{
		{URL: "ftp://x", UserAgent: "a"}:                         "url",
		{URL: "https://stream.wikimedia.org/v2/stream/rc"}:       "user_agent: required",
		{URL: "http://127.0.0.1:1/", UserAgent: "a", Since: "x"}: "since",
	} {
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", cfg, err, want)
		}
	}
	ok := Config{URL: "https://stream.wikimedia.org/v2/stream/recentchange", UserAgent: "sluice/0.1 (ops@example.org)", Since: "2026-11-27T00:00:00Z"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestProtocol checks what the feed sends and how it treats the answers:
// headers, since on the first connection only, a 404 retried slowly, a 429
// with Retry-After, an error event that does not stop it, and resume with
// Last-Event-ID.
func TestProtocol(t *testing.T) {
	var mu sync.Mutex
	var logs syncBuffer
	var reqs []*http.Request
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs, times = append(reqs, r), append(times, time.Now())
		n := len(reqs)
		mu.Unlock()
		switch n {
		case 1:
			http.Error(w, "no such stream", http.StatusNotFound)
		case 2:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		case 3:
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, ":ok\n\nevent: message\nid: [1]\ndata: {\"a\":1}\n\nevent: error\ndata: {\"oops\":true}\n\nevent: message\nid: [2]\ndata: {\"a\":2}\n\n")
		default:
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, ":ok\n\nevent: message\nid: [3]\ndata: {\"a\":3}\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	f := New("t", Config{URL: srv.URL + "/v2/stream/rc", UserAgent: "sluice-test (ops@example.org)", Since: "1690617099000",
		MaxBackoff: 300 * time.Millisecond, IdleTimeout: 5 * time.Second}, slog.New(slog.NewTextHandler(&logs, nil)))
	out := make(chan source.Item, 10)
	st := &source.Status{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx, source.Resume{}, out, st) }()
	var got []string
	for len(got) < 3 {
		select {
		case it := <-out:
			got = append(got, it.Position+" "+string(it.Data))
		case <-time.After(10 * time.Second):
			t.Fatalf("got %q", got)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != `[1] {"a":1},[2] {"a":2},[3] {"a":3}` {
		t.Fatalf("items %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, r := range reqs {
		if r.Header.Get("User-Agent") != "sluice-test (ops@example.org)" || r.Header.Get("Accept") != "text/event-stream" {
			t.Errorf("request %d headers %v", i, r.Header)
		}
	}
	if reqs[0].URL.Query().Get("since") != "1690617099000" || reqs[0].Header.Get("Last-Event-ID") != "" {
		t.Errorf("first request: %s", reqs[0].URL)
	}
	if last := reqs[3]; last.Header.Get("Last-Event-ID") != "[2]" || last.URL.Query().Get("since") != "" {
		t.Errorf("resume: Last-Event-ID %q, since %q", last.Header.Get("Last-Event-ID"), last.URL.Query().Get("since"))
	}
	if wait := times[2].Sub(times[1]); wait < time.Second {
		t.Errorf("429 with Retry-After: 1 was retried after %s", wait)
	}
	if v := st.View(); v.Reconnects < 3 {
		t.Errorf("status %+v", v)
	}
	if !strings.Contains(logs.String(), `msg="feed error event" source=t data="{\"oops\":true}"`) {
		t.Errorf("the error event was not logged:\n%s", logs.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// dnsFails is a network where no name resolves.
type dnsFails struct{}

func (dnsFails) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: r.URL.Hostname(), IsNotFound: true}}
}

// Offline, Wikimedia's feed does not resolve: the status says to try the
// demo, and the log says it once, not at every reconnection.
func TestOfflineHint(t *testing.T) {
	const hint = "offline? `sluice demo` runs the same pipeline on a simulated feed"
	for url, want := range map[string]int{"https://stream.wikimedia.org/v2/stream/recentchange": 1, "https://feed.example/v2/stream/rc": 0} {
		var logs syncBuffer
		f := New("t", Config{URL: url, UserAgent: "sluice-test (ops@example.org)", MaxBackoff: 10 * time.Millisecond},
			slog.New(slog.NewTextHandler(&logs, nil)))
		f.client.Transport = dnsFails{}
		st := &source.Status{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx, source.Resume{}, make(chan source.Item), st) }()
		for st.View().Reconnects < 3 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
		if n := strings.Count(logs.String(), "sluice demo"); n != want {
			t.Errorf("%s: the log gives the hint %d times, want %d:\n%s", url, n, want, logs.String())
		}
		if got := st.View().LastError; strings.Contains(got, hint) != (want == 1) || !strings.Contains(got, "no such host") {
			t.Errorf("%s: status %q", url, got)
		}
	}
}
