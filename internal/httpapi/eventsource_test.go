package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/testenv"
)

const eventsourceInstall = "npm ci --prefix internal/httpapi/testdata/eventsource"

// TestEventSourceInterop subscribes with an SSE client none of us wrote, the
// npm package eventsource (testdata/eventsource), and checks that its own
// reconnect with Last-Event-ID resumes with no gap and no repeat: ?limit=50
// makes the server end each response after 50 events, the library reconnects
// to the same URL by itself sending Last-Event-ID: 50, and gets 51..100.
func TestEventSourceInterop(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		testenv.Skip(t, "node (Node.js 20 or later) is not on PATH; install it, then run: "+eventsourceInstall)
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "eventsource"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(nodeBin, "-e", "process.exit(+process.versions.node.split('.')[0] >= 20 ? 0 : 1)").CombinedOutput(); err != nil {
		v, _ := exec.Command(nodeBin, "--version").Output()
		testenv.Skip(t, fmt.Sprintf("the eventsource package needs Node.js 20 or later, node is %s %s", bytes.TrimSpace(v), out))
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "eventsource", "package.json")); err != nil {
		testenv.Skip(t, "the npm package eventsource is not installed; run from the repository root: "+eventsourceInstall)
	}

	n := start(t, t.TempDir())
	defer stop(t, n)
	c := newClient(t, n)
	events := recorded(t)
	status, _, body := c.call("POST", "/v1/streams/"+rcStream+"/events", "application/x-ndjson", bytes.Join(events, []byte("\n")))
	if res := decode[produceResult](t, body); status != 200 || res.Accepted != len(events) || res.Duplicates != 0 {
		t.Fatalf("produce: %d %s", status, body)
	}

	const half = 50
	url := "http://" + n.Addr() + "/v1/streams/" + rcStream + "/events?since=earliest&limit=" + strconv.Itoa(half)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "client.mjs", url, strconv.Itoa(len(events)), strconv.Itoa(half))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SSE_TIMEOUT_MS=50000")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("node client.mjs: %v\nstderr:\n%s\nstdout (%d lines):\n%.2000s", err, stderr.String(), strings.Count(stdout.String(), "\n"), stdout.String())
	}
	t.Logf("eventsource received %d events in %v\n%s", len(events), time.Since(began).Round(time.Millisecond), stderr.String())

	// The library itself reconnected, once, sending the id of the 50th event.
	if log := stderr.String(); !strings.Contains(log, "connect 1 Last-Event-ID: none\n") ||
		!strings.Contains(log, "connect 2 Last-Event-ID: "+strconv.Itoa(half)+"\n") || strings.Contains(log, "connect 3 ") {
		t.Fatalf("connections: want a first one without Last-Event-ID and one resume with Last-Event-ID: %d; stderr:\n%s", half, log)
	}

	// Every event exactly once, in order: ids 1..100, data as produced.
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != len(events) {
		t.Fatalf("got %d lines, want %d:\n%.2000s", len(lines), len(events), stdout.String())
	}
	for i, line := range lines {
		id, data, ok := strings.Cut(line, " ")
		if want := strconv.Itoa(i + 1); !ok || id != want {
			t.Fatalf("line %d: id %q, want %s (a gap or a repeat): %.200s", i+1, id, want, line)
		}
		var got, want map[string]any
		if err := json.Unmarshal([]byte(data), &got); err != nil {
			t.Fatalf("line %d: data is not JSON: %v: %.200s", i+1, err, data)
		}
		if err := json.Unmarshal(events[i], &want); err != nil {
			t.Fatal(err)
		}
		gotID, wantID := got["meta"].(map[string]any)["id"], want["meta"].(map[string]any)["id"]
		if gotID != wantID {
			t.Fatalf("line %d: meta.id %v, want %v", i+1, gotID, wantID)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("line %d (meta.id %v): data differs from the produced event:\n got %.300s\nwant %.300s", i+1, gotID, data, events[i])
		}
	}
}
