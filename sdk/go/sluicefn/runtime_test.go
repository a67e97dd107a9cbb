package sluicefn_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// runtimeAPI is a stand-in for the Lambda Runtime API sluice serves: the
// subset a runtime client uses, with AWS's paths, headers and statuses.
type runtimeAPI struct {
	t       *testing.T
	addr    string
	pending chan invocation
	done    chan struct{}

	mu        sync.Mutex
	issued    map[string]bool
	outcomes  map[string]outcome
	initError *outcome
	changed   chan struct{} // closed and replaced on every outcome
}

type invocation struct {
	id       string
	body     []byte
	deadline time.Time
}

type outcome struct {
	kind    string // response, error, init_error
	body    []byte
	errType string // Lambda-Runtime-Function-Error-Type
}

const apiPrefix = "/2018-06-01/runtime"

func newRuntimeAPI(t *testing.T) *runtimeAPI {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &runtimeAPI{t: t, addr: ln.Addr().String(), pending: make(chan invocation, 16), done: make(chan struct{}),
		issued: map[string]bool{}, outcomes: map[string]outcome{}, changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"/invocation/next", a.next)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/{kind}", a.post)
	mux.HandleFunc("POST "+apiPrefix+"/init/error", a.post)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		close(a.done)
		srv.Close()
	})
	return a
}

func (a *runtimeAPI) next(w http.ResponseWriter, r *http.Request) {
	select {
	case inv := <-a.pending:
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:local:0:function:test")
		w.Header().Set("Content-Type", "application/json")
		w.Write(inv.body)
	case <-a.done:
	case <-r.Context().Done():
	}
}

func (a *runtimeAPI) post(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	o := outcome{kind: r.PathValue("kind"), body: body, errType: r.Header.Get("Lambda-Runtime-Function-Error-Type")}
	a.mu.Lock()
	defer a.mu.Unlock()
	if o.kind == "" {
		o.kind = "init_error"
		a.initError = &o
	} else {
		id := r.PathValue("id")
		if (o.kind != "response" && o.kind != "error") || !a.issued[id] || a.outcomes[id].kind != "" {
			http.Error(w, `{"errorType":"InvalidRequestID"}`, http.StatusBadRequest)
			return
		}
		a.outcomes[id] = o
	}
	close(a.changed)
	a.changed = make(chan struct{})
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, `{"status":"OK"}`)
}

// invoke sends an invocation and waits for its outcome.
func (a *runtimeAPI) invoke(body string, timeout time.Duration) outcome {
	a.t.Helper()
	a.mu.Lock()
	id := fmt.Sprintf("req-%d", len(a.issued)+1)
	a.issued[id] = true
	a.mu.Unlock()
	a.pending <- invocation{id: id, body: []byte(body), deadline: time.Now().Add(timeout)}
	return a.wait(func() (outcome, bool) { o, ok := a.outcomes[id]; return o, ok })
}

func (a *runtimeAPI) waitInitError() outcome {
	return a.wait(func() (outcome, bool) {
		if a.initError == nil {
			return outcome{}, false
		}
		return *a.initError, true
	})
}

func (a *runtimeAPI) wait(got func() (outcome, bool)) outcome {
	a.t.Helper()
	deadline := time.After(time.Minute)
	for {
		a.mu.Lock()
		o, ok := got()
		ch := a.changed
		a.mu.Unlock()
		if ok {
			return o
		}
		select {
		case <-ch:
		case <-deadline:
			a.t.Fatal("no outcome within a minute")
		}
	}
}

// buildHandler builds testdata/handler once per test binary.
var buildHandler = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "sluicefn-handler")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "handler")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/handler").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// startHandler runs the handler binary against a.
func startHandler(t *testing.T, a *runtimeAPI, env ...string) (*exec.Cmd, *lockedWriter) {
	t.Helper()
	bin, err := buildHandler()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), append([]string{"AWS_LAMBDA_RUNTIME_API=" + a.addr}, env...)...)
	stderr := &lockedWriter{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, stderr
}

// lockedWriter keeps a process's stderr, safe to read while it writes.
type lockedWriter struct {
	mu sync.Mutex
	w  strings.Builder
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}
