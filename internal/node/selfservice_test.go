package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/testenv"
)

// selfNode starts a node on dir's sluice.yaml (two streams, no pipeline).
func selfNode(t *testing.T, dir string, edit func(*config.Config)) *node.Node {
	t.Helper()
	path := filepath.Join(dir, "sluice.yaml")
	if _, err := os.Stat(path); err != nil {
		schema := `{type: object, required: [id, t], properties: {id: {type: string}, t: {type: string}}}`
		doc := "streams:\n  in: {schema: " + schema + ", id: /id, time: /t}\n  out: {schema: " + schema + ", id: /id, time: /t}\n"
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = filepath.Join(dir, "data"), "127.0.0.1:0"
	if edit != nil {
		edit(cfg)
	}
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func call(t *testing.T, n *node.Node, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+n.Addr()+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		if strings.HasSuffix(path, "/events") {
			req.Header.Set("Content-Type", "application/x-ndjson")
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

func produce(t *testing.T, n *node.Node, from, to int) {
	t.Helper()
	var b bytes.Buffer
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, `{"id":"e%d","t":"2026-12-02T00:00:00Z"}`+"\n", i)
	}
	if st, m := call(t, n, "POST", "/v1/streams/in/events", b.String()); st != 200 {
		t.Fatalf("produce: %d %v", st, m)
	}
}

// outputs waits until the stream out holds want events and returns their ids.
func outputs(t *testing.T, n *node.Node, want int) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + n.Addr() + "/v1/streams/out/events?since=earliest&limit=10000")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var ids []string
		for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
			var e struct{ ID string }
			if len(line) > 0 && json.Unmarshal(line, &e) == nil {
				ids = append(ids, e.ID)
			}
		}
		if len(ids) >= want || time.Now().After(deadline) {
			return ids
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSelfServicePipelineLifecycle(t *testing.T) {
	dir := t.TempDir()
	n := selfNode(t, dir, nil)
	pl := `{"name":"p","from":"in","start":"earliest","function":{"name":"identity"},"to":[{"stream":"out"}]}`
	if st, m := call(t, n, "POST", "/v1/pipelines", pl); st != 201 || m["version"] != 1.0 {
		t.Fatalf("create: %d %v", st, m)
	}
	if st, _ := call(t, n, "POST", "/v1/pipelines", pl); st != 409 {
		t.Fatalf("create twice: %d", st)
	}
	st, m := call(t, n, "PUT", "/v1/pipelines/q", `{"from":"in","function":{"name":"identity"},"to":[{"stream":"out"},{"table":"nope"}]}`)
	if st != 422 || !strings.Contains(fmt.Sprint(m["errors"]), `to[1].table`) {
		t.Fatalf("invalid: %d %v", st, m)
	}
	produce(t, n, 0, 100)
	if ids := outputs(t, n, 100); len(ids) != 100 {
		t.Fatalf("before the change: %d outputs", len(ids))
	}
	// a change of where: the pipeline restarts alone and keeps its position
	st, m = call(t, n, "PUT", "/v1/pipelines/p", `{"from":"in","start":"earliest","where":"event.id != 'e150'","function":{"name":"identity"},"to":[{"stream":"out"}]}`)
	if st != 200 || m["changed"] != true || fmt.Sprint(m["fields"]) != "[where]" {
		t.Fatalf("update: %d %v", st, m)
	}
	produce(t, n, 100, 200)
	ids := outputs(t, n, 199)
	seen := map[string]int{}
	for _, id := range ids {
		seen[id]++
	}
	if len(seen) != len(ids) {
		t.Fatalf("%d outputs, %d distinct: some input was processed again", len(ids), len(seen))
	}
	if len(ids) != 199 {
		t.Fatalf("after the change: %d outputs, want 199 (nothing again, nothing skipped, e150 filtered)", len(ids))
	}
	if st, m = call(t, n, "GET", "/v1/pipelines/p", ""); st != 200 || m["spec"] == nil || m["version"] != 2.0 {
		t.Fatalf("get: %d %v", st, m)
	}
	if st, m = call(t, n, "PUT", "/v1/pipelines/p", `{"from":"out","function":{"name":"identity"},"to":[{"stream":"in"}]}`); st != 409 {
		t.Fatalf("from changed without reset: %d %v", st, m)
	}
	if st, m = call(t, n, "DELETE", "/v1/streams/out", ""); st != 409 || !strings.Contains(fmt.Sprint(m["users"]), "pipelines.p (to[0].stream)") {
		t.Fatalf("delete a stream in use: %d %v", st, m)
	}
	// restart: the runtime-made pipeline is still there and goes on
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	n = selfNode(t, dir, nil)
	if st, m = call(t, n, "GET", "/v1/pipelines/p", ""); st != 200 || m["version"] != 2.0 {
		t.Fatalf("after restart: %d %v", st, m)
	}
	produce(t, n, 200, 210)
	if ids := outputs(t, n, 209); len(ids) != 209 {
		t.Fatalf("after restart: %d outputs, want 209", len(ids))
	}
	if st, _ = call(t, n, "DELETE", "/v1/pipelines/p", ""); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st, _ = call(t, n, "GET", "/v1/pipelines/p", ""); st != 404 {
		t.Fatalf("deleted pipeline: %d", st)
	}
	if st, m = call(t, n, "GET", "/v1/pipelines/p/history", ""); st != 200 || len(m["versions"].([]any)) != 3 {
		t.Fatalf("history: %d %v", st, m)
	}
	produce(t, n, 210, 220)
	time.Sleep(300 * time.Millisecond)
	if ids := outputs(t, n, 0); len(ids) != 209 {
		t.Fatalf("a deleted pipeline wrote: %d outputs", len(ids))
	}
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Two nodes on one NATS: a definition made on one runs on the other
// within a second.
func TestSelfServiceTwoNodesSeeEachOther(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	pg := testenv.PostgresSchema(t) // two nodes share tables only in PostgreSQL
	a := selfNode(t, dir, func(c *config.Config) { c.NATS.Listen, c.Node, c.TableStore = addr, "a", pg })
	defer a.Shutdown(context.Background())
	b := selfNode(t, dir, func(c *config.Config) {
		c.NATS.URL, c.Data, c.Node, c.TableStore = "nats://"+addr, filepath.Join(t.TempDir(), "b"), "b", pg
	})
	defer b.Shutdown(context.Background())
	if st, m := call(t, a, "POST", "/v1/tables", `{"name":"t","key":"event.id","time":"/t"}`); st != 201 {
		t.Fatalf("create on a: %d %v", st, m)
	}
	start := time.Now()
	for {
		st, m := call(t, b, "GET", "/v1/tables", "")
		if st == 200 && strings.Contains(fmt.Sprint(m["tables"]), "t") {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("b does not see the table after 1s: %v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("b saw the table after %v", time.Since(start))
}

// A dry run of an unsaved spec on the last events of its input: the
// pipeline's own step (where, function, the outputs' checks), nothing
// written.
func TestDryRunOfAnUnsavedSpec(t *testing.T) {
	n := selfNode(t, t.TempDir(), nil)
	defer n.Shutdown(context.Background())
	produce(t, n, 0, 30)
	st, m := call(t, n, "POST", "/v1/pipelines/try/dry-run?last=5",
		`{"from":"in","where":"event.id != 'e27'","function":{"name":"jq","config":{"program":"if .id == \"e28\" then {id: .id} else . end"}},"to":[{"stream":"out"}]}`)
	if st != 200 {
		t.Fatalf("dry run: %d %v", st, m)
	}
	events := m["events"].([]any)
	if len(events) != 5 {
		t.Fatalf("%d events, want the last 5", len(events))
	}
	for i, e := range events {
		ev := e.(map[string]any)
		id := fmt.Sprintf("e%d", 25+i)
		if ev["id"] != id {
			t.Fatalf("event %d is %v, want %s", i, ev["id"], id)
		}
		outs := ev["outputs"].([]any)
		switch id {
		case "e27":
			if ev["skipped"] != true || len(outs) != 0 {
				t.Errorf("e27 not skipped: %v", ev)
			}
		case "e28": // the output lacks t, which the stream out requires
			errDoc, _ := ev["error"].(map[string]any)
			if errDoc == nil || !strings.Contains(fmt.Sprint(errDoc["message"]), "missing property 't'") {
				t.Errorf("e28: want the output check's error naming t, got %v", ev)
			}
		default:
			if ev["error"] != nil || len(outs) != 1 {
				t.Errorf("%s: %v", id, ev)
			}
		}
	}
	if ids := outputs(t, n, 0); len(ids) != 0 {
		t.Fatalf("a dry run wrote %d events", len(ids))
	}
	if st, _ := call(t, n, "GET", "/v1/pipelines/try", ""); st != 404 {
		t.Fatalf("a dry run saved the pipeline: %d", st)
	}
	if st, m := call(t, n, "POST", "/v1/pipelines/try/dry-run", `{"from":"in","function":{"name":"identity"},"to":[{"table":"x"}]}`); st != 422 || !strings.Contains(fmt.Sprint(m["errors"]), "to[0].table") {
		t.Fatalf("invalid spec: %d %v", st, m)
	}
	if st, _ := call(t, n, "POST", "/v1/pipelines/try/dry-run?last=1000", `{"from":"in","function":{"name":"identity"},"to":[{"stream":"out"}]}`); st != 422 {
		t.Fatalf("last=1000: %d", st)
	}
}

// Every kind's GET shows its spec and version; tables, functions and
// sources made over the API run without a restart.
func TestSelfServiceEveryKind(t *testing.T) {
	dir := t.TempDir()
	n := selfNode(t, dir, nil)
	defer func() { _ = n.Shutdown(context.Background()) }()
	feed := filepath.Join(dir, "feed.ndjson")
	if err := os.WriteFile(feed, []byte(`{"id":"f1","t":"2026-12-02T00:00:00Z"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, body string }{
		{"/v1/tables", `{"name":"t","key":"event.id","time":"/t"}`},
		{"/v1/functions", `{"name":"copy","kind":"identity"}`},
		{"/v1/sources", `{"name":"feed","file":{"paths":["` + feed + `"]},"to":"in"}`},
		{"/v1/pipelines", `{"name":"p","from":"in","start":"earliest","function":{"name":"copy"},"to":[{"stream":"out"},{"table":"t"}]}`},
	} {
		if st, m := call(t, n, "POST", c.path, c.body); st != 201 {
			t.Fatalf("POST %s: %d %v", c.path, st, m)
		}
	}
	if ids := outputs(t, n, 1); len(ids) != 1 || ids[0] == "" {
		t.Fatalf("the source's event through the pipeline: %v", ids)
	}
	for _, path := range []string{"/v1/tables/t", "/v1/functions/copy", "/v1/sources/feed", "/v1/pipelines/p", "/v1/streams/in"} {
		st, m := call(t, n, "GET", path, "")
		if st != 200 || m["spec"] == nil || m["version"] == nil {
			t.Errorf("GET %s: %d spec %v version %v", path, st, m["spec"], m["version"])
		}
	}
	// the table has the event's version
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := call(t, n, "GET", "/v1/tables/t/keys/f1", "")
		if st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key f1 not in table t: %d", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// a function in use is not deleted without force
	if st, m := call(t, n, "DELETE", "/v1/functions/copy", ""); st != 409 || !strings.Contains(fmt.Sprint(m["users"]), "pipelines.p (function.name)") {
		t.Fatalf("delete a function in use: %d %v", st, m)
	}
}

// A definition that cannot run here is shown as such: its status says why
// (here a function whose program does not exist, and the pipeline using it).
func TestDefinitionThatDoesNotRunSaysWhy(t *testing.T) {
	n := selfNode(t, t.TempDir(), nil)
	defer func() { _ = n.Shutdown(context.Background()) }()
	if st, m := call(t, n, "PUT", "/v1/functions/broken", `{"process":{"command":["/nonexistent/sluice-fn"]}}`); st != 201 {
		t.Fatalf("function: %d %v", st, m)
	}
	if st, m := call(t, n, "PUT", "/v1/pipelines/p", `{"from":"in","function":{"name":"broken"},"to":[{"stream":"out"}]}`); st != 201 {
		t.Fatalf("pipeline: %d %v", st, m)
	}
	var st int
	var m map[string]any
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(20 * time.Millisecond) {
		if st, m = call(t, n, "GET", "/v1/pipelines/p", ""); st == 200 {
			break // the node has tried it (the change reaches it by the catalog's watch)
		}
	}
	if st != 200 || m["state"] != "failing" || !strings.Contains(fmt.Sprint(m["last_error"]), "not running") || m["spec"] == nil {
		t.Fatalf("status of a pipeline that does not run: %d %v", st, m)
	}
	if st, m := call(t, n, "GET", "/v1/functions/broken", ""); st != 200 || m["state"] != "not running" {
		t.Fatalf("status of a function that does not run: %d %v", st, m)
	}
}
