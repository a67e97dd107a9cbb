package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/testenv/natstest"
)

// startOn runs a node on the NATS cluster at url, its buckets and the
// stream s with three replicas.
func startOn(t *testing.T, url string) *node.Node {
	t.Helper()
	cfg, err := config.Parse(fmt.Appendf(nil, `
nats: {url: %q}
nats_replicas: 3
streams:
  s:
    schema: {type: object}
    replicas: 3
`, url))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type streamReplicas struct {
	Replicas  int    `json:"replicas"`
	Leader    string `json:"leader"`
	Followers []struct {
		Name    string `json:"name"`
		Current bool   `json:"current"`
		Lag     uint64 `json:"lag"`
	} `json:"followers"`
}

// An R3 stream whose cluster lost two of its three servers: produce
// answers 503 (no_leader, Retry-After) within its time, not 500 and no
// hang; once the servers are back, produce answers 200 again by itself.
// GET /v1/streams/s shows the replicas and the leader.
func TestProduceWithoutLeader(t *testing.T) {
	c := natstest.Cluster(t, 3)
	n := startOn(t, c.URL())
	defer stop(t, n)
	cl := newClient(t, n)

	status, _, body := cl.call("GET", "/v1/streams/s", "", nil)
	info := decode[streamReplicas](t, body)
	if status != 200 || info.Replicas != 3 || c.Index(info.Leader) < 0 || len(info.Followers) != 2 {
		t.Fatalf("GET /v1/streams/s: %d %s", status, body)
	}
	// The replicas change in place, by a PUT of the definition.
	for _, r := range []int{1, 3} {
		spec := fmt.Appendf(nil, `{"schema":{"type":"object"},"replicas":%d}`, r)
		if status, _, body := cl.call("PUT", "/v1/streams/s", "application/json", spec); status != 200 {
			t.Fatalf("PUT replicas %d: %d %s", r, status, body)
		}
		for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
			_, _, body := cl.call("GET", "/v1/streams/s", "", nil)
			info = decode[streamReplicas](t, body)
			current := info.Leader != "" && len(info.Followers) == r-1
			for _, f := range info.Followers {
				current = current && f.Current
			}
			if info.Replicas == r && current {
				break
			}
			if time.Since(start) > 20*time.Second {
				t.Fatalf("replicas %d: %s", r, body)
			}
		}
	}
	event := func(id string) []byte { return fmt.Appendf(nil, `{"meta":{"id":%q,"dt":"2026-11-27T10:00:00Z"}}`, id) }
	if status, _, body := cl.call("POST", "/v1/streams/s/events", "application/json", event("before")); status != 200 {
		t.Fatalf("produce: %d %s", status, body)
	}

	for i := 1; i < 3; i++ {
		if err := c.Stop(i); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	status, hdr, body := cl.call("POST", "/v1/streams/s/events", "application/json", event("during"))
	took := time.Since(start)
	t.Logf("produce with 2 of 3 servers down (the leader was %s): %d after %s: %s", info.Leader, status, took.Round(time.Millisecond), body)
	p := decode[struct {
		Detail string `json:"detail"`
		Cause  string `json:"cause"`
	}](t, body)
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || p.Cause != "no_leader" || took > 20*time.Second {
		t.Fatalf("produce without a leader: %d after %s, Retry-After %q: %s", status, took, hdr.Get("Retry-After"), body)
	}
	// The stream's own append, or the catalog's definition of it (on the
	// same servers) found no leader: either way the detail names the
	// stream and the cause.
	if !strings.HasPrefix(p.Detail, "stream s ") || !strings.Contains(p.Detail, "(JetStream cluster electing or lost quorum); try again") {
		t.Fatalf("detail %q", p.Detail)
	}

	for i := 1; i < 3; i++ {
		if err := c.Start(i); err != nil {
			t.Fatal(err)
		}
	}
	start = time.Now()
	for {
		status, _, body := cl.call("POST", "/v1/streams/s/events", "application/json", event("after"))
		if status == 200 {
			break
		}
		if status != http.StatusServiceUnavailable || time.Since(start) > time.Minute {
			t.Fatalf("produce after the servers came back: %d after %s: %s", status, time.Since(start), body)
		}
	}
	t.Logf("produce answers 200 again %s after the servers started", time.Since(start).Round(time.Millisecond))
}

// testLog writes a node's log lines to the test's log.
type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Logf("node: %s", b)
	return len(b), nil
}

// On the embedded single server a stream has 1 replica and no leader to
// tell; a definition asking for 3 is refused, naming the field.
func TestReplicasOnOneServer(t *testing.T) {
	n := start(t, t.TempDir())
	defer stop(t, n)
	cl := newClient(t, n)
	status, _, body := cl.call("GET", "/v1/streams/"+rcStream, "", nil)
	info := decode[streamReplicas](t, body)
	if status != 200 || info.Replicas != 1 || info.Leader != "" || info.Followers != nil {
		t.Fatalf("GET: %d %s", status, body)
	}
	status, _, body = cl.call("PUT", "/v1/streams/one", "application/json", []byte(`{"schema":{"type":"object"},"replicas":3}`))
	p := decode[struct {
		Errors []struct{ Path, Message string } `json:"errors"`
	}](t, body)
	if status != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Path != "replicas" ||
		!strings.Contains(p.Errors[0].Message, "3 replicas need a JetStream cluster") {
		t.Fatalf("PUT replicas 3 on one server: %d %s", status, body)
	}
	// Nor is an existing stream changed to 3: its definition keeps 1.
	spec := string(getSpec(t, cl, rcStream))
	if !strings.HasPrefix(spec, "{") {
		t.Fatalf("spec of %s: %q", rcStream, spec)
	}
	status, _, body = cl.call("PUT", "/v1/streams/"+rcStream, "application/json", []byte(strings.Replace(spec, "{", `{"replicas":3,`, 1)))
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("PUT replicas 3 on an existing stream: %d %s", status, body)
	}
	if spec := string(getSpec(t, cl, rcStream)); strings.Contains(spec, "replicas") {
		t.Fatalf("the refused replicas are in the definition: %s", spec)
	}
	status, _, body = cl.call("PUT", "/v1/streams/one", "application/json", []byte(`{"schema":{"type":"object"},"replicas":2}`))
	if status != http.StatusUnprocessableEntity || !strings.Contains(string(body), "want 1, 3 or 5, got 2") {
		t.Fatalf("PUT replicas 2: %d %s", status, body)
	}
}

// getSpec is the spec GET /v1/streams/{name} shows for a stream.
func getSpec(t *testing.T, cl *client, name string) []byte {
	t.Helper()
	_, _, body := cl.call("GET", "/v1/streams/"+name, "", nil)
	return decode[struct {
		Spec json.RawMessage `json:"spec"`
	}](t, body).Spec
}
