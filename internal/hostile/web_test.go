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
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// Web attacks: slow bodies and headers (here), cross-site requests, DNS
// rebinding and CORS (web_origin_test.go), and invoke requests that try to
// point a function at an address of their choosing (web_invoke_test.go).
// The helpers here serve all three.

// webNode starts a node with a short body timeout, a configured host name,
// a trusted origin and a reader origin; a file source (feed -> fed), a
// pipeline (s -> copy and table t) and a pipeline calling
// mediawiki.page_images on the given API base (the operator's), which its
// where clause never lets run.
func webNode(t *testing.T, apiBase string) *testNode {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"s.json": eventSchema, "feed.ndjson": event("feed-1") + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	declare := func(name string) string { return "  " + name + ":\n    schema: s.json\n    id: /id\n    time: /dt\n" }
	yaml := "streams:\n" + declare("s") + declare("fed") + declare("copy") + declare("imgs") + `
http:
  body_timeout: 1s
  header_timeout: 1s
  hosts: [sluice.example, "*.corp.example"]
  trusted_origins: ["https://admin.example"]
  cors_origins: ["https://dash.example"]
sources:
  feed:
    file: {paths: [feed.ndjson]}
    to: fed
pipelines:
  copy:
    from: s
    start: earliest
    function: {name: identity}
    to: [{stream: copy}, {table: t}]
  images:
    from: s
    where: "false"
    function:
      name: mediawiki.page_images
      config: {user_agent: "sluice-hostile-test (ops@example.org)", api_base: "` + apiBase + `", max_attempts: 1}
    to: [{stream: imgs}]
tables:
  t: {key: event.id, time: /dt}
`
	n := startConfig(t, dir, yaml)
	wait(t, "the file source's event", func() bool { return n.count(t, "fed") == 1 })
	// Each pipeline makes its dead-letter stream when it first runs: wait
	// for them, so that the streams a test snapshots are all there.
	wait(t, "the pipelines' dead-letter streams", func() bool {
		for _, name := range []string{"copy.errors", "images.errors"} {
			if _, err := n.Streams.Get(context.Background(), name); err != nil {
				return false
			}
		}
		return true
	})
	return n
}

// wait polls cond for up to a minute: conditions, not timings.
func wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// send makes a request with a Host (if not empty) and headers (name, value pairs).
func send(t *testing.T, method, url, host, body string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// recentchange is the first recorded recentchange event (an enwiki edit),
// with its server_url replaced if serverURL is not empty.
func recentchange(t *testing.T, serverURL string) string {
	t.Helper()
	data, err := os.ReadFile("../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	if serverURL == "" {
		return string(line)
	}
	var e map[string]any
	if err := json.Unmarshal(line, &e); err != nil {
		t.Fatal(err)
	}
	e["server_url"] = serverURL
	b, _ := json.Marshal(e)
	return string(b)
}

// counting is a loopback HTTP server that counts the requests it gets.
func counting(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestSlowBodyTimesOutAndSubscriptionsLive(t *testing.T) {
	sim := mediawiki.New(mediawiki.Options{})
	t.Cleanup(sim.Close)
	api, _ := counting(t, sim)
	n := webNode(t, api.URL)

	// A subscription opened first: it must outlive every body deadline below.
	req, _ := http.NewRequest("GET", n.URL+"/v1/streams/s/events?since=earliest", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close(); <-done })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: %d", resp.StatusCode)
	}

	// Bodies trickled a byte at a time: cut off with 408 once the configured
	// second has passed, whether the handler reads them whole (produce) or
	// decodes them (a schema change).
	for _, path := range []string{"/v1/streams/s/events", "/v1/streams/s/schema"} {
		method := map[bool]string{true: "POST", false: "PUT"}[strings.HasSuffix(path, "/events")]
		a := trickle(t, n, method, path)
		if a.Status != http.StatusRequestTimeout {
			t.Fatalf("%s %s trickled: %d %s", method, path, a.Status, a.Body)
		}
		if p := a.JSON(t); p["config"] != "http.body_timeout" || !strings.Contains(fmt.Sprint(p["detail"]), "1s") {
			t.Fatalf("the answer does not name the limit: %s", a.Body)
		}
	}
	if got := n.count(t, "s"); got != 0 {
		t.Fatalf("a trickled body stored %d events", got)
	}

	// Headers trickled: the connection is closed once header_timeout passes.
	conn, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/streams HTTP/1.1\r\nHost: %s\r\n", n.Addr())
	stopHeaders := make(chan struct{})
	headersDone := make(chan struct{})
	go func() {
		defer close(headersDone)
		for i := 0; ; i++ {
			select {
			case <-stopHeaders:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := fmt.Fprintf(conn, "X-%d: y\r\n", i); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	// EOF, or a reset as the server closes with our headers unread; at most a 408.
	b, err := io.ReadAll(conn)
	if ne, ok := err.(net.Error); (ok && ne.Timeout()) || (len(b) > 0 && !bytes.HasPrefix(b, []byte("HTTP/1.1 408"))) {
		t.Fatalf("trickled headers: the connection was not closed: %q %v", b, err)
	}
	close(stopHeaders)
	<-headersDone
	// Headers over max_header_bytes (64 KiB by default) are refused.
	if a := send(t, "GET", n.URL+"/v1/streams", "", "", "X-Big", strings.Repeat("x", 100<<10)); a.Status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("100 KiB of headers: %d %s", a.Status, a.Body)
	}

	// A body that arrived in time is not cut off later, however long the
	// handler takes: the function waits on the simulated API for longer than
	// the body timeout (the deadline must be cleared at the body's end, or
	// the server's background read would cancel the request).
	sim.SetLatency(1500 * time.Millisecond)
	a := send(t, "POST", n.URL+"/v1/functions/mediawiki.page_images/invoke", "",
		`{"config":{"user_agent":"sluice-hostile-test (ops@example.org)","max_attempts":1},"events":[`+recentchange(t, "")+`]}`)
	sim.SetLatency(0)
	if a.Status != http.StatusOK || bytes.Contains(a.Body, []byte(`"error"`)) {
		t.Fatalf("a slow invoke with a prompt body: %d %s", a.Status, a.Body)
	}

	// The subscription is still open: an event produced now reaches it.
	if a := do(t, "POST", n.URL+"/v1/streams/s/events", event("after-slow-bodies")); a.Status != http.StatusOK {
		t.Fatalf("produce: %d %s", a.Status, a.Body)
	}
	timeout := time.After(time.Minute)
	for got := false; !got; {
		select {
		case l := <-lines:
			got = strings.HasPrefix(l, "data:") && strings.Contains(l, "after-slow-bodies")
		case <-done:
			t.Fatal("the subscription ended with the slow bodies")
		case <-timeout:
			t.Fatal("the subscription got no event")
		}
	}
	n.serves(t)
}

// trickle sends a request whose body comes a byte at a time and returns
// the answer, which must come before the body ends.
func trickle(t *testing.T, n *testNode, method, path string) answer {
	t.Helper()
	conn, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := strings.Repeat(" ", 10000) + event("slow")
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		method, path, n.Addr(), len(body))
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 0; i < len(body); i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond): // 500 s for the whole body
			}
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-sent }()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: no answer while the body trickled: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
}
