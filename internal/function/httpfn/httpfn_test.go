package httpfn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/httpfn"
	"github.com/sluice-dev/sluice/internal/function/invocation"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// endpoint is a function over HTTP on loopback: identity, except for
// events {"do": ...}; status answers any batch that holds the event.
type endpoint struct {
	*httptest.Server
	requests atomic.Int32
	mu       sync.Mutex
	headers  http.Header
	unavail  atomic.Int32 // answer 503 this many times first
}

func newEndpoint(t *testing.T) *endpoint {
	e := &endpoint{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.requests.Add(1)
		e.mu.Lock()
		e.headers = r.Header.Clone()
		e.mu.Unlock()
		if e.unavail.Add(-1) >= 0 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var req invocation.Request
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.Method != "POST" {
			http.Error(w, "bad invocation", http.StatusBadRequest)
			return
		}
		var results []invocation.Result
		for _, raw := range req.Events {
			var ev struct {
				N  int
				Do string
			}
			json.Unmarshal(raw, &ev)
			switch ev.Do {
			case "500":
				http.Error(w, fmt.Sprintf("event %d broke me", ev.N), http.StatusInternalServerError)
				return
			case "401":
				http.Error(w, "who are you", http.StatusUnauthorized)
				return
			case "413":
				http.Error(w, "too big", http.StatusRequestEntityTooLarge)
				return
			case "302":
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
				return
			case "hang":
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
				return
			case "fail":
				results = append(results, invocation.Result{Error: &invocation.Error{Type: "ValueError", Message: "no", Stack: []string{"app.py:3"}}})
				continue
			}
			results = append(results, invocation.Result{Outputs: []json.RawMessage{raw}})
		}
		if results == nil {
			results = []invocation.Result{}
		}
		json.NewEncoder(w).Encode(invocation.Answer{Results: results})
	}))
	t.Cleanup(e.Close)
	return e
}

func newFunction(t *testing.T, settings map[string]any) *invocation.Function {
	t.Helper()
	inv, _, err := httpfn.Kind.New("f", settings, invocation.Env{Path: "functions.f.http",
		Getenv: func(k string) string { return map[string]string{"TOKEN": "t0k"}[k] }})
	if err != nil {
		t.Fatal(err)
	}
	f, err := invocation.New(inv, invocation.Options{Name: "f", MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func batch(n int, do map[int]string) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range out {
		out[i] = json.RawMessage(fmt.Sprintf(`{"n":%d,"do":%q}`, i, do[i]))
	}
	return out
}

func callErr(t *testing.T, err error) *function.CallError {
	t.Helper()
	var ce *function.CallError
	if !errors.As(err, &ce) {
		t.Fatalf("want a CallError: %v", err)
	}
	return ce
}

func ok(t *testing.T, res []function.Result, bad ...int) {
	t.Helper()
	skip := map[int]bool{}
	for _, b := range bad {
		skip[b] = true
	}
	for i, r := range res {
		if !skip[i] && (r.Err != nil || len(r.Outputs) != 1 || !strings.Contains(string(r.Outputs[0]), fmt.Sprintf(`"n":%d,`, i))) {
			t.Fatalf("event %d: %+v", i, r)
		}
	}
}

func TestInvoke(t *testing.T) {
	e := newEndpoint(t)
	f := newFunction(t, map[string]any{"url": e.URL + "/fn?key=1", "headers": map[string]any{"Authorization": "Bearer ${TOKEN}"}, "concurrency": 2})
	res := f.Call(context.Background(), batch(20, map[int]string{3: "fail"}))
	ok(t, res, 3)
	if ce := callErr(t, res[3].Err); ce.Type != "ValueError" || ce.Error() != "ValueError: no" || ce.Stack[0] != "app.py:3" {
		t.Fatalf("per-event error: %+v", ce)
	}
	e.mu.Lock()
	h := e.headers
	e.mu.Unlock()
	if h.Get("Authorization") != "Bearer t0k" || h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "sluice" {
		t.Fatalf("headers %v", h)
	}
	if n := e.requests.Load(); n != 3 {
		t.Fatalf("%d requests for 20 events in batches of 8", n)
	}
	st := f.Invoker().State().(httpfn.State)
	if st.State != "ok" || st.Invocations != 3 || st.URL != e.URL+"/fn" {
		t.Fatalf("state %+v", st)
	}
}

func TestServerErrorsAreBisected(t *testing.T) {
	e := newEndpoint(t)
	f := newFunction(t, map[string]any{"url": e.URL, "timeout": "300ms"})
	res := f.Call(context.Background(), batch(8, map[int]string{2: "500", 6: "hang", 7: "413"}))
	ok(t, res, 2, 6, 7)
	if ce := callErr(t, res[2].Err); ce.Status != 500 || !strings.Contains(ce.Body, "event 2 broke me") || ce.Attempts != 4 ||
		!strings.Contains(ce.Error(), "Sluice.HTTPError: POST "+e.URL+": 500 Internal Server Error (HTTP 500) after 4 attempts") {
		t.Fatalf("500: %+v", ce)
	}
	if ce := callErr(t, res[6].Err); ce.Type != invocation.TypeHTTPTimeout || !strings.Contains(ce.Error(), "no answer within the timeout (300ms)") {
		t.Fatalf("timeout: %v", ce)
	}
	if ce := callErr(t, res[7].Err); ce.Status != 413 {
		t.Fatalf("413: %v", ce)
	}
}

func TestClientErrorIsTheBatchs(t *testing.T) {
	e := newEndpoint(t)
	f := newFunction(t, map[string]any{"url": e.URL})
	res := f.Call(context.Background(), batch(5, map[int]string{1: "401"}))
	for i, r := range res {
		if ce := callErr(t, r.Err); ce.Status != 401 || ce.Body != "who are you\n" {
			t.Fatalf("event %d: %+v", i, ce)
		}
	}
	res = f.Call(context.Background(), batch(2, map[int]string{0: "302"}))
	if ce := callErr(t, res[1].Err); ce.Status != 302 || !strings.Contains(ce.Error(), "(to /elsewhere): redirects are not followed") {
		t.Fatalf("redirect: %v", ce)
	}
	if n := e.requests.Load(); n != 2 {
		t.Fatalf("%d requests: a 4xx batch was split, or a redirect followed", n)
	}
}

func TestUnavailable(t *testing.T) {
	e := newEndpoint(t)
	e.unavail.Store(2)
	f := newFunction(t, map[string]any{"url": e.URL, "max_attempts": 3})
	ok(t, f.Call(context.Background(), batch(3, nil))) // two 503s, then an answer
	e.unavail.Store(100)
	res := f.Call(context.Background(), batch(3, nil))
	if err := function.Unavailable(res); err == nil || !strings.Contains(err.Error(), "503 Service Unavailable (after 3 attempts) (HTTP 503)") {
		t.Fatalf("503: %v", err)
	}
	e.Close()
	res = f.Call(context.Background(), batch(1, nil))
	if err := function.Unavailable(res); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("refused: %v", err)
	}
	if st := f.Invoker().State().(httpfn.State); st.State != "failing" || st.LastError == "" {
		t.Fatalf("state %+v", st)
	}
}

func TestSettings(t *testing.T) {
	for settings, want := range map[string]string{
		`{}`:                                            "functions.f.http.url: required",
		`{"url":"ftp://x/y"}`:                           `functions.f.http.url: "ftp://x/y": want http://`,
		`{"url":"http://u:p@x/"}`:                       "credentials do not go in the URL",
		`{"url":"http://x/","timeout":"1y"}`:            "functions.f.http.timeout",
		`{"url":"http://x/","concurrency":100}`:         "functions.f.http.concurrency: want 1 to 64",
		`{"url":"http://x/","headers":{"A":"${NOPE}"}}`: "functions.f.http.headers.A: ${NOPE} is not set",
		`{"url":"http://x/","method":"GET"}`:            `unknown field "method"`,
	} {
		var m map[string]any
		json.Unmarshal([]byte(settings), &m)
		_, _, err := httpfn.Kind.New("f", m, invocation.Env{Path: "functions.f.http", Getenv: func(string) string { return "" }})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", settings, err, want)
		}
	}
	inv, shown, err := httpfn.Kind.New("f", map[string]any{"url": "http://127.0.0.1:1/x?api_key=s3cret",
		"headers": map[string]any{"Authorization": "Bearer ${TOKEN}", "X-Key": "literal-secret"}},
		invocation.Env{Path: "p", Getenv: func(string) string { return "v" }})
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	b, _ := json.Marshal(shown)
	if strings.Contains(string(b), "s3cret") || strings.Contains(string(b), "literal-secret") || !strings.Contains(string(b), `"Authorization":"Bearer ${TOKEN}"`) {
		t.Fatalf("shown: %s", b)
	}
}
