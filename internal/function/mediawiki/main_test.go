package mediawiki

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/function"
	sim "github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	en        = "en.wikipedia.org"
	de        = "de.wikipedia.org"
	userAgent = "sluice-test/1.0 (https://example.org/contact; test@example.org)"
	recorded  = "../../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson"
)

// env is the simulator served on loopback, behind a wrapper that counts
// requests in flight per wiki and can answer instead of the simulator.
type env struct {
	sim  *sim.Server
	ts   *httptest.Server
	addr string // 127.0.0.1:PORT

	mu       sync.Mutex
	inflight map[string]int // wiki host → requests in flight
	peak     map[string]int // wiki host → most requests in flight at once

	intercept atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
}

func start(t *testing.T, o sim.Options) *env {
	t.Helper()
	e := &env{sim: sim.New(o), inflight: map[string]int{}, peak: map[string]int{}}
	e.ts = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.ts.Close)
	t.Cleanup(e.sim.Close)
	e.addr = e.ts.Listener.Addr().String()
	return e
}

func (e *env) serve(w http.ResponseWriter, r *http.Request) {
	host, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	e.mu.Lock()
	e.inflight[host]++
	e.peak[host] = max(e.peak[host], e.inflight[host])
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.inflight[host]--
		e.mu.Unlock()
	}()
	if h := e.intercept.Load(); h != nil && (*h)(w, r) {
		return
	}
	e.sim.ServeHTTP(w, r)
}

// answerWith makes the wrapper answer requests for which h returns true.
func (e *env) answerWith(h func(w http.ResponseWriter, r *http.Request) bool) { e.intercept.Store(&h) }

func (e *env) peakOf(host string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.peak[host]
}

// requests are the simulator's recorded requests for host.
func (e *env) requests(host string) []sim.Request {
	var out []sim.Request
	for _, r := range e.sim.Requests() {
		if r.Host == host {
			out = append(out, r)
		}
	}
	return out
}

// serverURL is what an event of the wiki host names as server_url, so that
// its API is the simulator's /{host}/w/api.php.
func (e *env) serverURL(host string) string { return "http://" + e.addr + "/" + host }

// newFunc builds the function allowing the simulator, with config on top
// and fast backoff.
func newFunc(t *testing.T, e *env, config map[string]any) *pageImages {
	t.Helper()
	c := map[string]any{"user_agent": userAgent}
	if e != nil {
		c["allowed_hosts"] = []string{e.addr}
	}
	maps.Copy(c, config)
	fn, err := Spec.New(c)
	if err != nil {
		t.Fatal(err)
	}
	f := fn.(*pageImages)
	f.backoffInitial = 10e6 // 10ms
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// loadRecorded reads the recorded enwiki events, pointed at the simulator.
func loadRecorded(t *testing.T, e *env) []map[string]any {
	t.Helper()
	file, err := os.Open(recorded)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var out []map[string]any
	sc := bufio.NewScanner(file)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		if ev["server_url"] != "https://"+en || ev["server_script_path"] != "/w" {
			t.Fatalf("unexpected recorded event: %v %v", ev["server_url"], ev["server_script_path"])
		}
		ev["server_url"] = e.serverURL(en)
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// edit is a synthetic edit event of title on host.
func edit(e *env, host, title string, rev int64) map[string]any {
	return map[string]any{
		"$schema": "/mediawiki/recentchange/1.0.0",
		"meta": map[string]any{"id": fmt.Sprintf("id-%s-%s-%d", host, title, rev),
			"dt": "2026-11-27T10:00:00Z", "stream": "mediawiki.recentchange"},
		"type": "edit", "namespace": 0, "title": title, "wiki": strings.Split(host, ".")[0] + "wiki",
		"server_url": e.serverURL(host), "server_script_path": "/w",
		"revision": map[string]any{"old": rev - 1, "new": rev},
	}
}

// edits are edit events of titles on host.
func edits(e *env, host string, titles ...string) []map[string]any {
	out := make([]map[string]any, len(titles))
	for i, title := range titles {
		out[i] = edit(e, host, title, int64(1000+i))
	}
	return out
}

// call runs f on events; it may run in a goroutine of its own.
func call(t *testing.T, ctx context.Context, f function.Function, events []map[string]any) []function.Result {
	t.Helper()
	raw := make([]json.RawMessage, len(events))
	for i, ev := range events {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Error(err) // not Fatal: calls run in goroutines too
		}
		raw[i] = b
	}
	res := f.Call(ctx, raw)
	if len(res) != len(events) {
		t.Errorf("%d results for %d events", len(res), len(events))
		return make([]function.Result, len(events))
	}
	return res
}

// outputs decodes each result's single output, failing on errors.
func outputs(t *testing.T, res []function.Result) []output {
	t.Helper()
	out := make([]output, len(res))
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("event %d: %v", i, r.Err)
		}
		if len(r.Outputs) != 1 {
			t.Fatalf("event %d: %d outputs", i, len(r.Outputs))
		}
		dec := json.NewDecoder(strings.NewReader(string(r.Outputs[0])))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out[i]); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, r.Outputs[0])
		}
	}
	return out
}

// titlesN are n distinct titles.
func titlesN(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s %03d", prefix, i)
	}
	return out
}

// wantImages is the truth as the function reports it (never nil).
func wantImages(imgs []string) []string {
	if imgs == nil {
		return []string{}
	}
	return imgs
}
