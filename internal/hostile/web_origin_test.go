package hostile

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Cross-site requests, DNS rebinding and CORS, on the node of webNode.

// stateCase is how to call one state-changing route so that it succeeds:
// prepare (optional) makes what attempt i needs and req gives its path and
// body.
type stateCase struct {
	prepare func(t *testing.T, n *testNode, i int)
	req     func(i int) (path, body string)
	// ran, if set, tells from a status other than 2xx that the handler ran
	// (e.g. 409 for canceling an operation that ended).
	ran func(status int) bool
}

// idle waits until the pipeline copy runs no operation (redrive and
// rebuild answer 202 and go on; a second one while one runs is 409).
func idle(t *testing.T, n *testNode) {
	t.Helper()
	waitUntil(t, 30*time.Second, "the pipeline's operation to end", func() bool {
		var pl struct {
			Operation *struct {
				State string `json:"state"`
			} `json:"operation"`
		}
		a := do(t, "GET", n.URL+"/v1/pipelines/copy", "")
		return a.Status == http.StatusOK && json.Unmarshal(a.Body, &pl) == nil && (pl.Operation == nil || pl.Operation.State != "running")
	})
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
	var op string // the operation the cancel case cancels
	out := map[string]stateCase{
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
		"POST /v1/sources/{name}/pause":    {req: fixed("/v1/sources/feed/pause", "")},
		"POST /v1/sources/{name}/resume":   {req: fixed("/v1/sources/feed/resume", "")},
		"POST /v1/functions/{name}/invoke": {req: fixed("/v1/functions/identity/invoke", `{"events":[{"a":1}]}`)},
		"POST /v1/pipelines/{name}/pause":  {req: fixed("/v1/pipelines/copy/pause", "")},
		"POST /v1/pipelines/{name}/resume": {req: fixed("/v1/pipelines/copy/resume", "")},
		"POST /v1/pipelines/{name}/reset":  {req: fixed("/v1/pipelines/copy/reset?to=earliest", "")},
		"POST /v1/pipelines/{name}/redrive": {prepare: func(t *testing.T, n *testNode, _ int) { idle(t, n) },
			req: fixed("/v1/pipelines/copy/redrive", "")},
		"DELETE /v1/operations/{id}": {
			prepare: func(t *testing.T, n *testNode, _ int) {
				idle(t, n)
				a := do(t, "POST", n.URL+"/v1/pipelines/copy/redrive", "")
				var o struct{ ID string }
				if a.Status != http.StatusAccepted || json.Unmarshal(a.Body, &o) != nil || o.ID == "" {
					t.Fatalf("redrive to cancel: %d %s", a.Status, a.Body)
				}
				op = o.ID
			},
			req: func(int) (string, string) { return "/v1/operations/" + op, "" },
			// A redrive of no dead letters may have ended before the cancel.
			ran: func(status int) bool { return status == http.StatusConflict }},
		"POST /v1/pipelines/{name}/invoke": {req: func(i int) (string, string) {
			return "/v1/pipelines/copy/invoke", `{"events":[` + event("invoked") + `]}`
		}},
		// A lookup changes nothing, but is a POST: cross-site, refused as one.
		"POST /v1/tables/{name}/lookup": {req: fixed("/v1/tables/t/lookup", `{"keys":["k"]}`)},
		"POST /v1/tables/{name}/rebuild": {prepare: func(t *testing.T, n *testNode, _ int) { idle(t, n) },
			req: fixed("/v1/tables/t/rebuild", "")},
		"POST /v1/apply": {req: func(i int) (string, string) {
			return "/v1/apply", fmt.Sprintf(`{"definitions":[{"kind":"tables","name":"applied_%d","spec":%s}]}`, i, specs["tables"])
		}},
		"POST /v1/pipelines/{name}/dry-run": {req: fixed("/v1/pipelines/try/dry-run", specs["pipelines"])},
		// With access control off (as here) the token routes answer 409: the
		// handler ran; cross-site, the guard refuses them first.
		"POST /v1/tokens": {req: fixed("/v1/tokens", `{"name":"t","grants":[{"resource":"*","role":"read"}]}`),
			ran: func(status int) bool { return status == http.StatusConflict }},
		"DELETE /v1/tokens/{id}": {req: fixed("/v1/tokens/x", ""), ran: func(status int) bool { return status == http.StatusConflict }},
		// Signing in cross-site (login CSRF) is refused as any change is.
		"POST /v1/session":   {req: fixed("/v1/session", `{"token":"sluice_aaaaaaaaaaaaaaaa_x"}`)},
		"DELETE /v1/session": {req: fixed("/v1/session", "")},
		"PUT /v1/streams/{name}": {req: func(i int) (string, string) {
			return fmt.Sprintf("/v1/streams/put-%d", i), `{"schema":{"type":"object"}}`
		}},
	}
	for _, kind := range []string{"tables", "functions", "sources", "pipelines"} {
		out["POST /v1/"+kind] = stateCase{req: func(i int) (string, string) {
			return "/v1/" + kind, fmt.Sprintf(`{"name":"made_%d",%s`, i, specs[kind][1:])
		}}
		out["PUT /v1/"+kind+"/{name}"] = stateCase{req: func(i int) (string, string) {
			return fmt.Sprintf("/v1/%s/put_%d", kind, i), specs[kind]
		}}
		out["DELETE /v1/"+kind+"/{name}"] = stateCase{
			prepare: func(t *testing.T, n *testNode, i int) {
				if a := do(t, "PUT", fmt.Sprintf("%s/v1/%s/gone_%d", n.URL, kind, i), specs[kind]); a.Status != http.StatusCreated {
					t.Fatalf("create %s gone_%d: %d %s", kind, i, a.Status, a.Body)
				}
				// what it makes as it starts (its dead-letter stream) is not the deletion's doing
				switch kind {
				case "pipelines":
					waitStream(t, n, fmt.Sprintf("gone_%d.errors", i))
				case "sources":
					waitStream(t, n, "s.dlq")
				}
			},
			req: func(i int) (string, string) { return fmt.Sprintf("/v1/%s/gone_%d", kind, i), "" }}
	}
	return out
}

// waitStream waits until a stream exists.
func waitStream(t *testing.T, n *testNode, name string) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		if do(t, "GET", n.URL+"/v1/streams/"+name, "").Status == http.StatusOK {
			return
		}
	}
	t.Fatalf("stream %s not made in 10s", name)
}

// specs are definitions the self-service cases create.
var specs = map[string]string{
	"tables":    `{"key":"event.meta.id","time":"/meta/dt"}`,
	"functions": `{"kind":"identity"}`,
	"sources":   `{"file":{"paths":["/nonexistent/sluice-hostile.ndjson"]},"to":"s"}`,
	"pipelines": `{"from":"s","function":{"name":"identity"},"to":[{"table":"t"}]}`,
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
	var defs struct {
		Definitions []struct {
			Kind, Name string
			Version    int
		} `json:"definitions"`
	}
	for path, into := range map[string]any{"/v1/streams": &streams, "/v1/streams/s": &s, "/v1/sources/feed": &src, "/v1/pipelines/copy": &pl, "/v1/definitions": &defs} {
		a := do(t, "GET", n.URL+path, "")
		if a.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, a.Status, a.Body)
		}
		if err := json.Unmarshal(a.Body, into); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf("streams %v; s: %d events, %d versions; source paused %v; pipeline paused %v; definitions %v",
		streams.Streams, n.count(t, "s"), len(s.Versions), src.Paused, pl.Paused, defs.Definitions)
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
				if a, _, _ := try(h...); a.Status/100 != 2 && (c.ran == nil || !c.ran(a.Status)) {
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
