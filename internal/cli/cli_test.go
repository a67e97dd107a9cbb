package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/stream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	rc         = "wikimedia.recentchange"
	schemaFile = "../../testdata/schemas/mediawiki/recentchange/1.0.0.yaml"
	eventsFile = "../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson"
)

// startNode runs a node on a free loopback port and returns its --server URL.
func startNode(t *testing.T) (*node.Node, string) {
	t.Helper()
	n := startConfigured(t, config.Default())
	return n, n.URL()
}

// startConfigured runs a node of cfg in a data directory of the test's
// own on a free loopback port, shut down when the test ends.
func startConfigured(t *testing.T, cfg *config.Config) *node.Node {
	t.Helper()
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		http.DefaultClient.CloseIdleConnections()
	})
	return n
}

// run executes the CLI against server and returns its exit code and outputs.
func run(t *testing.T, server string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Execute(append([]string{"--server", server}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustRun runs the CLI and fails unless it exits 0.
func mustRun(t *testing.T, server string, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, server, args...)
	if code != 0 {
		t.Fatalf("sluice %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
	}
	return out
}

// want fails unless got equals want.
func want(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func recorded(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(eventsFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

func lines(ls []string) string { return strings.Join(ls, "\n") + "\n" }

// withID returns a recorded event with a new meta.id, and replace applied.
func withID(t *testing.T, line, id string, replace ...string) string {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal([]byte(strings.NewReplacer(replace...).Replace(line)), &ev); err != nil {
		t.Fatal(err)
	}
	ev["meta"].(map[string]any)["id"] = id
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// schemaVariant writes the recentchange schema as JSON after edit changes it.
func schemaVariant(t *testing.T, name string, edit func(props map[string]any)) string {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc["properties"].(map[string]any))
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, name, string(b))
}

func createRC(t *testing.T, server string) {
	t.Helper()
	out := mustRun(t, server, "stream", "create", rc, "--schema", schemaFile, "--key", "/wiki", "--key", "/title", "--max-age", "168h")
	want(t, "stream create", out, "created stream "+rc+" (schema v1, id /meta/id, time /meta/dt)\n")
}

func TestStreamLifecycle(t *testing.T) {
	_, srv := startNode(t)
	createRC(t, srv)

	code, out, errOut := run(t, srv, "stream", "create", rc, "--schema", schemaFile)
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "sluice: Already exists (409): ") || !strings.Contains(errOut, rc) {
		t.Errorf("create again: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// --replicas is passed on: one server cannot keep three copies, and says so.
	code, out, errOut = run(t, srv, "stream", "create", "three", "--schema", schemaFile, "--replicas", "3")
	if code != 1 || out != "" || !strings.Contains(errOut, "replicas") {
		t.Errorf("create with --replicas 3 on one server: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	out = mustRun(t, srv, "stream", "ls")
	if !regexp.MustCompile(`(?m)^NAME +SCHEMA +EVENTS`).MatchString(out) || !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(rc)+` +v1 +0 `).MatchString(out) {
		t.Errorf("stream ls:\n%s", out)
	}
	var infos []stream.Info
	if err := json.Unmarshal([]byte(mustRun(t, srv, "stream", "ls", "--json")), &infos); err != nil {
		t.Fatal(err)
	}
	infos = slices.DeleteFunc(infos, func(i stream.Info) bool { return i.Name == "sluice.audit" }) // sluice's own
	if len(infos) != 1 || infos[0].Name != rc || infos[0].Version != 1 || len(infos[0].Key) != 2 {
		t.Errorf("stream ls --json: %+v", infos)
	}

	note := func(p map[string]any) { p["sluice_note"] = map[string]any{"type": "string"} }
	added := schemaVariant(t, "added.json", note)
	want(t, "compatible schema", mustRun(t, srv, "stream", "schema", rc, added), "schema of "+rc+" is now v2\n")
	want(t, "same schema again", mustRun(t, srv, "stream", "schema", rc, added), "schema of "+rc+" unchanged (v2)\n")

	removed := schemaVariant(t, "removed.json", func(p map[string]any) {
		note(p)
		delete(p, "comment")
	})
	code, out, errOut = run(t, srv, "stream", "schema", rc, removed)
	want(t, "breaking schema: stdout", out, "")
	want(t, "breaking schema: stderr", errOut, "refused: 1 breaking change(s):\n"+
		"  /properties/comment (field /comment): property removed: \"comment\" is no longer declared (removed or renamed)\n"+
		"sluice: schema of "+rc+" not changed (use --force to replace it anyway; it is recorded)\n")
	if code != 1 {
		t.Errorf("breaking schema: exit %d, want 1", code)
	}
	want(t, "forced schema", mustRun(t, srv, "stream", "schema", rc, removed, "--force"),
		"schema of "+rc+" is now v3 (forced over 1 breaking change(s))\n")

	out = mustRun(t, srv, "stream", "info", rc)
	for _, re := range []string{`(?m)^name +` + regexp.QuoteMeta(rc) + `$`, `(?m)^key +\[/wiki /title\]$`, `(?m)^preview +/title, /wiki, /user, /type \(from the schema\)$`,
		`(?m)^retention +max_age 168h0m0s, max_bytes 0$`, `(?m)^schema v1 +\S+$`, `(?m)^schema v2 +\S+$`,
		`(?m)^schema v3 +\S+ \(forced, 1 breaking change\(s\)\)$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("stream info: no match for %s in\n%s", re, out)
		}
	}

	want(t, "stream rm", mustRun(t, srv, "stream", "rm", rc), "deleted stream "+rc+"\n")
	code, out, errOut = run(t, srv, "stream", "info", rc)
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "sluice: Not found (404): ") {
		t.Errorf("info after rm: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestProduceAndTail(t *testing.T) {
	n, srv := startNode(t)
	createRC(t, srv)
	events := recorded(t)
	if len(events) != 100 {
		t.Fatalf("%d recorded events, want 100", len(events))
	}

	want(t, "produce", mustRun(t, srv, "produce", rc, eventsFile), "accepted 100 (0 duplicate), invalid 0\n")
	want(t, "produce again", mustRun(t, srv, "produce", rc, eventsFile), "accepted 100 (100 duplicate), invalid 0\n")

	bad := writeFile(t, "bad.json", withID(t, events[0], "bad-1", `"bot":false`, `"bot":"yes"`))
	code, out, errOut := run(t, srv, "produce", rc, bad)
	want(t, "invalid event: stdout", out, "accepted 0 (0 duplicate), invalid 1\n")
	want(t, "invalid event: stderr", errOut, "event 0: /bot: type: got string, want boolean\nsluice: 1 event(s) refused\n")
	if code != 1 {
		t.Errorf("invalid event: exit %d, want 1", code)
	}

	want(t, "tail -n 3", mustRun(t, srv, "tail", rc, "-n", "3"), lines(events[97:]))
	want(t, "tail (all)", mustRun(t, srv, "tail", rc), lines(events))
	since := "2023-07-29T07:53:00Z"
	first := -1
	for i, e := range events {
		var ev struct{ Meta struct{ DT string } }
		if err := json.Unmarshal([]byte(e), &ev); err != nil {
			t.Fatal(err)
		}
		if first < 0 && ev.Meta.DT >= since {
			first = i
		}
	}
	if first <= 0 {
		t.Fatalf("no event at or after %s in the middle of the file", since)
	}
	want(t, "tail --since time", mustRun(t, srv, "tail", rc, "--since", since), lines(events[first:]))
	want(t, "tail --since 10 --until 13", mustRun(t, srv, "tail", rc, "--since", "10", "--until", "13"), lines(events[9:12]))
	var last struct{ Title, Wiki, User, Type string }
	if err := json.Unmarshal([]byte(events[99]), &last); err != nil {
		t.Fatal(err)
	}
	want(t, "tail -n 1 --preview", mustRun(t, srv, "tail", rc, "-n", "1", "--preview"),
		fmt.Sprintf("title=%s · wiki=%s · user=%s · type=%s\n", last.Title, last.Wiki, last.User, last.Type))

	// Follow: only events produced after the subscription, then exit after -n.
	var followOut, followErr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Execute([]string{"--server", srv, "tail", rc, "-f", "-n", "2"}, &followOut, &followErr)
	}()
	waitSubscribers(t, n, 1)
	fresh := []string{withID(t, events[0], "follow-1"), withID(t, events[1], "follow-2")}
	want(t, "produce fresh", mustRun(t, srv, "produce", rc, writeFile(t, "fresh.ndjson", lines(fresh))),
		"accepted 2 (0 duplicate), invalid 0\n")
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("tail -f: exit %d, stderr %q", code, followErr.String())
		}
		want(t, "tail -f -n 2", followOut.String(), lines(fresh))
	case <-time.After(10 * time.Second):
		t.Fatalf("tail -f -n 2 did not end within 10s; printed %q", followOut.String())
	}
}

// waitSubscribers waits until the node counts want live readers of rc, so
// that what is produced next reaches them.
func waitSubscribers(t *testing.T, n *node.Node, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mfs, err := n.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "sluice_subscribers" {
				continue
			}
			for _, m := range mf.GetMetric() {
				if m.GetGauge().GetValue() == want && len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == rc {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %v subscriber(s) of %s after 10s", want, rc)
}

func TestServerDown(t *testing.T) {
	for _, args := range [][]string{{"stream", "ls"}, {"produce", rc, eventsFile}, {"tail", rc, "-n", "1"},
		{"tail", rc, "--since", "3"}, {"tail", rc, "-f"}} {
		code, out, errOut := run(t, "http://127.0.0.1:1", args...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "sluice: ") || !strings.Contains(errOut, "is `sluice serve` running at http://127.0.0.1:1?") {
			t.Errorf("%v with no server: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestInvoke(t *testing.T) {
	_, server := startNode(t)
	lines := recorded(t)
	file := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(file, []byte(lines[0]+"\n"+lines[1]+"\n"+`{"namespace":"x"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, server, "invoke", "jq", file, "--config", `{"program":"{title, n: (.namespace + 1)}"}`)
	want(t, "stdout", out, "{\"n\":1,\"title\":\"EFL Championship\"}\n{\"n\":1,\"title\":\"Lim Sang-choon\"}\n")
	if code != 1 || !strings.Contains(errOut, "event 2: jq: cannot add") || !strings.Contains(errOut, "1 of 3 event(s) failed") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut = run(t, server, "invoke", "jq", file, "--config", `{"program":7}`); code != 1 || !strings.Contains(errOut, "program: want string") {
		t.Fatalf("bad config: %d %q", code, errOut)
	}
}
