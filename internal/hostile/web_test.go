package hostile

import (
	"bufio"
	"bytes"
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

// Web attacks: slow bodies, cross-site requests, DNS rebinding, CORS, and
// invoke requests that try to point a function at an address of their
// choosing.

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

// stateCase is how to call one state-changing route so that it succeeds:
// prepare (optional) makes what attempt i needs and req gives its path and
// body.
type stateCase struct {
	prepare func(t *testing.T, n *testNode, i int)
	req     func(i int) (path, body string)
}

// stateCases has a case for every state-changing route of the API, by
// "METHOD pattern" as the route table gives them.
func stateCases(t *testing.T) map[string]stateCase {
	fixed := func(path, body string) func(int) (string, string) {
		return func(int) (string, string) { return path, body }
	}
	var schema map[string]any
	if err := json.Unmarshal([]byte(eventSchema), &schema); err != nil {
		t.Fatal(err)
	}
	return map[string]stateCase{
		"POST /v1/streams": {req: func(i int) (string, string) {
			return "/v1/streams", fmt.Sprintf(`{"name":"made-%d","schema":{"type":"object"}}`, i)
		}},
		"DELETE /v1/streams/{name}": {
			prepare: func(t *testing.T, n *testNode, i int) {
				body := fmt.Sprintf(`{"name":"gone-%d","schema":{"type":"object"}}`, i)
				if a := do(t, "POST", n.URL+"/v1/streams", body); a.Status != http.StatusCreated {
					t.Fatalf("create gone-%d: %d %s", i, a.Status, a.Body)
				}
			},
			req: func(i int) (string, string) { return fmt.Sprintf("/v1/streams/gone-%d", i), "" }},
		"PUT /v1/streams/{name}/schema": {req: func(i int) (string, string) {
			props := schema["properties"].(map[string]any)
			props[fmt.Sprintf("p%d", i)] = map[string]any{"type": "string"}
			b, _ := json.Marshal(map[string]any{"schema": schema})
			return "/v1/streams/s/schema", string(b)
		}},
		"POST /v1/streams/{name}/events": {req: func(i int) (string, string) {
			return "/v1/streams/s/events", event(fmt.Sprintf("attempt-%d", i))
		}},
		"POST /v1/sources/{name}/pause":     {req: fixed("/v1/sources/feed/pause", "")},
		"POST /v1/sources/{name}/resume":    {req: fixed("/v1/sources/feed/resume", "")},
		"POST /v1/functions/{name}/invoke":  {req: fixed("/v1/functions/identity/invoke", `{"events":[{"a":1}]}`)},
		"POST /v1/pipelines/{name}/pause":   {req: fixed("/v1/pipelines/copy/pause", "")},
		"POST /v1/pipelines/{name}/resume":  {req: fixed("/v1/pipelines/copy/resume", "")},
		"POST /v1/pipelines/{name}/reset":   {req: fixed("/v1/pipelines/copy/reset?to=earliest", "")},
		"POST /v1/pipelines/{name}/redrive": {req: fixed("/v1/pipelines/copy/redrive", "")},
		"POST /v1/pipelines/{name}/invoke": {req: func(i int) (string, string) {
			return "/v1/pipelines/copy/invoke", `{"events":[` + event("invoked") + `]}`
		}},
		"POST /v1/tables/{name}/rebuild": {req: fixed("/v1/tables/t/rebuild", "")},
	}
}

// snapshot is what the state-changing routes change that can be read back
// at once: the streams, the events and schema versions of s, and whether
// the source and the copy pipeline are paused.
func (n *testNode) snapshot(t *testing.T) string {
	t.Helper()
	var streams struct {
		Streams []struct {
			Name string `json:"name"`
		} `json:"streams"`
	}
	var s struct {
		Versions []any `json:"versions"`
		Messages uint64
	}
	var src, pl struct {
		Paused bool `json:"paused"`
	}
	for path, into := range map[string]any{"/v1/streams": &streams, "/v1/streams/s": &s, "/v1/sources/feed": &src, "/v1/pipelines/copy": &pl} {
		a := do(t, "GET", n.URL+path, "")
		if a.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, a.Status, a.Body)
		}
		if err := json.Unmarshal(a.Body, into); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf("streams %v; s: %d events, %d versions; source paused %v; pipeline paused %v",
		streams.Streams, n.count(t, "s"), len(s.Versions), src.Paused, pl.Paused)
}

func TestCrossSiteRequestsChangeNothing(t *testing.T) {
	n := webNode(t, "http://127.0.0.1:1")
	own := n.URL // the node's own origin: http://127.0.0.1:PORT
	cases := stateCases(t)
	seen := 0
	for _, rt := range n.API.Routes() {
		method, _, _ := strings.Cut(rt, " ")
		if method == "GET" || method == "HEAD" {
			continue
		}
		c, ok := cases[rt]
		if !ok {
			t.Errorf("no case for the state-changing route %s: add one to stateCases", rt)
			continue
		}
		seen++
		attempt := 0
		// try makes attempt i and returns its answer, with snapshots taken
		// after its preparation and after it.
		try := func(header ...string) (a answer, before, after string) {
			attempt++
			if c.prepare != nil {
				c.prepare(t, n, attempt)
			}
			before = n.snapshot(t)
			path, body := c.req(attempt)
			a = send(t, method, n.URL+path, "", body, header...)
			return a, before, n.snapshot(t)
		}
		t.Run(rt, func(t *testing.T) {
			for _, h := range [][]string{
				{"Origin", "http://evil.example"},
				{"Sec-Fetch-Site", "cross-site"},
				{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"},
				{"Origin", "https://dash.example", "Sec-Fetch-Site", "cross-site"}, // may read, not write
				{"Origin", "http://sub.127.0.0.1.example", "Sec-Fetch-Site", "same-site"},
			} {
				a, before, after := try(h...)
				if a.Status != http.StatusForbidden {
					t.Fatalf("with %v: %d %s", h, a.Status, a.Body)
				}
				// The guard's answer: the route's handler never ran.
				if p := a.JSON(t); p["title"] != "Cross-origin request refused" || p["config"] != "http.trusted_origins" {
					t.Fatalf("with %v: %s", h, a.Body)
				}
				if after != before {
					t.Fatalf("with %v the node changed:\n before %s\n after  %s", h, before, after)
				}
			}
			for _, h := range [][]string{
				nil, // the CLI, curl
				{"Origin", own},
				{"Origin", own, "Sec-Fetch-Site", "same-origin"}, // the node's own UI
				{"Origin", "https://admin.example", "Sec-Fetch-Site", "cross-site"},
			} {
				if a, _, _ := try(h...); a.Status/100 != 2 {
					t.Fatalf("with %v: %d %s", h, a.Status, a.Body)
				}
			}
		})
	}
	if seen != len(cases) {
		t.Errorf("%d cases for %d state-changing routes: remove the cases of routes that are gone", len(cases), seen)
	}
	n.serves(t)
}

func TestForeignHostIsRefused(t *testing.T) {
	n := webNode(t, "http://127.0.0.1:1")
	_, port, _ := net.SplitHostPort(n.Addr())
	for _, host := range []string{"evil.example", "evil.example:" + port, "sluice.example.evil", "corp.example.evil:" + port, "localhost.evil"} {
		for _, path := range []string{"/v1/streams", "/", "/v1/streams/s/events?since=earliest"} {
			a := send(t, "GET", n.URL+path, host, "")
			if a.Status != http.StatusMisdirectedRequest {
				t.Fatalf("GET %s with Host %s: %d %.300s", path, host, a.Status, a.Body)
			}
			if p := a.JSON(t); p["config"] != "http.hosts" || p["host"] != host {
				t.Fatalf("GET %s with Host %s: %d %s", path, host, a.Status, a.Body)
			}
		}
		// A rebinding page is same-origin to the browser: Origin matches Host.
		a := send(t, "POST", n.URL+"/v1/streams/s/events", host, event("rebound"), "Origin", "http://"+host, "Sec-Fetch-Site", "same-origin")
		if a.Status != http.StatusMisdirectedRequest {
			t.Fatalf("produce with Host %s: %d %s", host, a.Status, a.Body)
		}
	}
	if got := n.count(t, "s"); got != 0 {
		t.Fatalf("a request with a foreign Host stored %d events", got)
	}
	for _, host := range []string{"localhost:" + port, "localhost", "127.0.0.1:" + port, "127.0.0.2:" + port, "[::1]:" + port,
		"sluice.example:" + port, "SLUICE.example", "corp.example", "a.b.corp.example:" + port} {
		if a := send(t, "GET", n.URL+"/v1/streams", host, ""); a.Status != http.StatusOK {
			t.Fatalf("GET with Host %s: %d %s", host, a.Status, a.Body)
		}
		id := "host-" + host
		if a := send(t, "POST", n.URL+"/v1/streams/s/events", host, event(id), "Origin", "http://"+host, "Sec-Fetch-Site", "same-origin"); a.Status != http.StatusOK {
			t.Fatalf("produce with Host %s: %d %s", host, a.Status, a.Body)
		}
	}
	n.serves(t)
}

func TestCORS(t *testing.T) {
	n := webNode(t, "http://127.0.0.1:1")
	if a := send(t, "POST", n.URL+"/v1/streams/s/events", "", event("c1")+"\n"+event("c2"), "Content-Type", "application/x-ndjson"); a.Status != http.StatusOK {
		t.Fatalf("produce: %d %s", a.Status, a.Body)
	}
	preflight := func(origin, method, headers string) http.Header {
		a := send(t, "OPTIONS", n.URL+"/v1/streams/s/events", "", "", "Origin", origin,
			"Access-Control-Request-Method", method, "Access-Control-Request-Headers", headers)
		if a.Status/100 == 5 {
			t.Fatalf("preflight: %d %s", a.Status, a.Body)
		}
		return a.Header
	}
	// A reader origin may read, with Last-Event-ID to resume, but not write.
	h := preflight("https://dash.example", "GET", "last-event-id")
	if h.Get("Access-Control-Allow-Origin") != "https://dash.example" || !strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "last-event-id") {
		t.Fatalf("reader preflight for GET: %v", h)
	}
	if h := preflight("https://dash.example", "POST", "content-type"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("reader preflight for POST: %v", h)
	}
	// A trusted origin may write.
	if h := preflight("https://admin.example", "POST", "content-type"); h.Get("Access-Control-Allow-Origin") != "https://admin.example" ||
		h.Get("Access-Control-Allow-Methods") != "POST" {
		t.Fatalf("trusted preflight for POST: %v", h)
	}
	// Another origin gets nothing.
	for _, m := range []string{"GET", "POST"} {
		if h := preflight("http://evil.example", m, ""); h.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("foreign preflight for %s: %v", m, h)
		}
	}
	// Cross-origin reads: the NDJSON page with its Sluice-Next, the stream
	// list and info, a table, the status; and an SSE subscription.
	for _, path := range []string{"/v1/streams/s/events?since=earliest&limit=1", "/v1/streams", "/v1/streams/s", "/v1/tables/t", "/v1/pipelines", "/readyz"} {
		a := send(t, "GET", n.URL+path, "", "", "Origin", "https://dash.example", "Sec-Fetch-Site", "cross-site")
		if a.Status != http.StatusOK || a.Header.Get("Access-Control-Allow-Origin") != "https://dash.example" ||
			!strings.Contains(a.Header.Get("Access-Control-Expose-Headers"), "Sluice-Next") {
			t.Fatalf("GET %s from the reader origin: %d %v", path, a.Status, a.Header)
		}
		// Another origin's page gets no CORS headers, and no work is done
		// for it: the browser would not show it the answer anyway.
		for _, h := range [][]string{
			{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "cors"},
			{"Origin", "http://evil.example"}, // an older browser
			{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "image"}, // <img src=...>
		} {
			a = send(t, "GET", n.URL+path, "", "", h...)
			if a.Status != http.StatusForbidden || a.Header.Get("Access-Control-Allow-Origin") != "" || a.JSON(t)["config"] != "http.cors_origins" {
				t.Fatalf("GET %s with %v: %d %v %s", path, h, a.Status, a.Header, a.Body)
			}
		}
		// A link followed from another site is a navigation: served.
		a = send(t, "GET", n.URL+path, "", "", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document")
		if a.Status != http.StatusOK {
			t.Fatalf("GET %s as a navigation from another site: %d %s", path, a.Status, a.Body)
		}
	}
	// The UI's files are the UI's: any page may link to them.
	if a := send(t, "GET", n.URL+"/ui/streams", "", "", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"); a.Status != http.StatusOK {
		t.Fatalf("the UI from a link: %d", a.Status)
	}
	req, _ := http.NewRequest("GET", n.URL+"/v1/streams/s/events?since=earliest", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Origin", "https://dash.example")
	req.Header.Set("Last-Event-ID", "1")
	if a := send(t, "GET", req.URL.String(), "", "", "Accept", "text/event-stream", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"); a.Status != http.StatusForbidden {
		t.Fatalf("SSE from another origin: %d", a.Status)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "https://dash.example" || first == "" {
		t.Fatalf("SSE from the reader origin: %d %v %q", resp.StatusCode, resp.Header, first)
	}
}

func TestInvokeCannotChooseNetworkTargets(t *testing.T) {
	sim := mediawiki.New(mediawiki.Options{})
	t.Cleanup(sim.Close)
	api, apiCalls := counting(t, sim)
	target, targetCalls := counting(t, sim) // where an attacker wants the node to connect
	n := webNode(t, api.URL)
	targetHost := strings.TrimPrefix(target.URL, "http://")
	invoke := func(config, ev string) answer {
		return do(t, "POST", n.URL+"/v1/functions/mediawiki.page_images/invoke", `{"config":`+config+`,"events":[`+ev+`]}`)
	}
	ua := `"user_agent":"sluice-hostile-test (ops@example.org)","max_attempts":1`
	for _, c := range []struct{ field, config, event string }{
		{"api_base", `{` + ua + `,"api_base":"` + target.URL + `"}`, recentchange(t, "")},
		{"allowed_hosts", `{` + ua + `,"allowed_hosts":["` + targetHost + `"]}`, recentchange(t, target.URL)},
		{"api_base", `{` + ua + `,"API_BASE":"` + target.URL + `"}`, recentchange(t, "")}, // encoding/json ignores case
		{"allowed_hosts", `{` + ua + `,"allowed_hoſts":["` + targetHost + `"]}`, recentchange(t, target.URL)},
	} {
		a := invoke(c.config, c.event)
		if a.Status != http.StatusForbidden || a.JSON(t)["field"] != c.field {
			t.Fatalf("config %s: %d %s", c.config, a.Status, a.Body)
		}
	}
	// An event naming the target gets nowhere either: the operator's
	// allowed_hosts (Wikimedia's) do not list it.
	if a := invoke(`{`+ua+`}`, recentchange(t, target.URL)); a.Status != http.StatusOK || !bytes.Contains(a.Body, []byte("not in allowed_hosts")) {
		t.Fatalf("an event naming the target: %d %s", a.Status, a.Body)
	}
	if got := targetCalls.Load(); got != 0 {
		t.Fatalf("the function made %d requests to the address the request chose", got)
	}
	// Without operator fields the function runs where the operator said:
	// the pipeline's api_base.
	if a := invoke(`{`+ua+`}`, recentchange(t, "")); a.Status != http.StatusOK || !bytes.Contains(a.Body, []byte(`"image_list"`)) {
		t.Fatalf("invoke with the operator's values: %d %s", a.Status, a.Body)
	}
	if apiCalls.Load() == 0 {
		t.Fatal("the function did not ask the operator's api_base")
	}
	// The pipeline's own invoke uses its whole config, as before.
	if a := do(t, "POST", n.URL+"/v1/pipelines/images/invoke", `{"events":[`+recentchange(t, "")+`]}`); a.Status != http.StatusOK {
		t.Fatalf("pipeline invoke: %d %s", a.Status, a.Body)
	}
}
