package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/sse"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

const rcStream = "wikimedia.recentchange"

// start runs a node on a free loopback port with the recentchange stream declared.
func start(t *testing.T, dir string) *node.Node {
	t.Helper()
	cfg, err := config.Parse([]byte(`
streams:
  wikimedia.recentchange:
    schema: ../../testdata/schemas/mediawiki/recentchange/1.0.0.yaml
    key: [/wiki, /title]
    retention: {max_age: 168h}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = dir, "127.0.0.1:0"
	cfg.Limits.MaxEventBytes, cfg.Limits.MaxRequestBytes = 256<<10, 2<<20
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func stop(t *testing.T, n *node.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func recorded(t *testing.T) [][]byte {
	t.Helper()
	data, err := os.ReadFile("../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(data), []byte("\n"))
}

type client struct {
	t    *testing.T
	base string
	doc  *openapi
}

func newClient(t *testing.T, n *node.Node) *client {
	return &client{t: t, base: "http://" + n.Addr(), doc: loadOpenAPI(t, n)}
}

// call makes a request and checks the response body against the OpenAPI
// document's schema for that operation and status.
func (c *client) call(method, path, ctype string, body []byte, hdr ...string) (int, http.Header, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.doc.check(c.t, method, path, resp, data)
	return resp.StatusCode, resp.Header, data
}

func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

type produceResult struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Events     []struct {
		Index     int    `json:"index"`
		Seq       uint64 `json:"seq"`
		Duplicate bool   `json:"duplicate"`
	} `json:"events"`
	Invalid []struct {
		Index  int `json:"index"`
		Errors []struct {
			Pointer, Keyword, Message string
		} `json:"errors"`
	} `json:"invalid"`
	Detail string `json:"detail"`
}

func TestProduceValidatesAndDeduplicates(t *testing.T) {
	n := start(t, t.TempDir())
	defer stop(t, n)
	c := newClient(t, n)
	events := recorded(t)
	path := "/v1/streams/" + rcStream + "/events"

	// NDJSON of the 100 real events: all stored, in order.
	status, _, body := c.call("POST", path, "application/x-ndjson", bytes.Join(events, []byte("\n")))
	res := decode[produceResult](t, body)
	if status != 200 || res.Accepted != 100 || res.Duplicates != 0 || res.Events[99].Seq != 100 {
		t.Fatalf("produce: %d %s", status, body)
	}
	// The same again, as a JSON array: every one a duplicate, nothing stored.
	status, _, body = c.call("POST", path, "application/json", append(append([]byte("["), bytes.Join(events[:10], []byte(","))...), ']'))
	res = decode[produceResult](t, body)
	if status != 200 || res.Accepted != 10 || res.Duplicates != 10 || res.Events[3].Seq != 4 || !res.Events[3].Duplicate {
		t.Fatalf("duplicates: %d %s", status, body)
	}
	// A mix: 207, the valid event stored, the invalid one named by index, pointer and rule.
	bad := bytes.Replace(events[0], []byte(`"bot":false`), []byte(`"bot":"no"`), 1)
	bad = bytes.Replace(bad, []byte(`0416300b`), []byte(`ffffffff`), 1)
	fresh := bytes.Replace(events[1], []byte(`97e4dc39`), []byte(`eeeeeeee`), 1)
	status, _, body = c.call("POST", path, "application/x-ndjson", bytes.Join([][]byte{bad, fresh}, []byte("\n")))
	res = decode[produceResult](t, body)
	if status != 207 || res.Accepted != 1 || res.Events[0].Index != 1 || res.Events[0].Seq != 101 ||
		len(res.Invalid) != 1 || res.Invalid[0].Index != 0 || res.Invalid[0].Errors[0].Pointer != "/bot" ||
		res.Invalid[0].Errors[0].Keyword != "type" || res.Invalid[0].Errors[0].Message != "got string, want boolean" {
		t.Fatalf("mixed: %d %s", status, body)
	}
	// All invalid: 400, a problem that names the index, pointer and rule; nothing stored.
	status, hdr, body := c.call("POST", path, "application/x-ndjson", []byte(`{"$schema":"x","meta":{"stream":"s","dt":"2023-07-29T07:51:39Z","id":"z1"},"namespace":"zero"}`+"\nnot json\n"))
	res = decode[produceResult](t, body)
	if status != 400 || hdr.Get("Content-Type") != "application/problem+json" || len(res.Invalid) != 2 ||
		!strings.Contains(res.Detail, "event 0: /namespace: type") || res.Invalid[1].Errors[0].Keyword != "json" {
		t.Fatalf("all invalid: %d %s", status, body)
	}
	// Missing id and time are the stream's rules.
	status, _, body = c.call("POST", path, "application/json", []byte(`{"$schema":"x","meta":{"stream":"s","dt":"yesterday"}}`))
	if status != 400 || !strings.Contains(string(body), `"/meta/dt"`) {
		t.Fatalf("bad time: %d %s", status, body)
	}
	status, _, body = c.call("POST", path, "application/json", []byte(`{"$schema":"x","meta":{"stream":"s","dt":"2023-07-29T07:51:39Z"}}`))
	if status != 400 || !strings.Contains(string(body), `sluice.id`) {
		t.Fatalf("no id: %d %s", status, body)
	}
	// Size limits: 413 naming the event; nothing stored.
	huge := bytes.Replace(events[2], []byte(`"comment":"`), []byte(`"comment":"`+strings.Repeat("x", 300<<10)), 1)
	status, _, body = c.call("POST", path, "application/x-ndjson", bytes.Join([][]byte{events[3], huge}, []byte("\n")))
	if status != 413 || !strings.Contains(string(body), "event 1 is") {
		t.Fatalf("event too large: %d %s", status, body)
	}
	status, _, body = c.call("POST", path, "application/x-ndjson", bytes.Repeat(append(events[3], '\n'), 2000))
	if status != 413 || !strings.Contains(string(body), "over the limit") {
		t.Fatalf("request too large: %d %.300s", status, body)
	}
	// Unparseable body and unknown stream.
	if status, _, body = c.call("POST", path, "application/json", []byte(`[{"a":1},`)); status != 400 || !strings.Contains(string(body), "array element 1") {
		t.Fatalf("unparseable: %d %s", status, body)
	}
	if status, _, _ = c.call("POST", "/v1/streams/nope/events", "application/json", []byte(`{}`)); status != 404 {
		t.Fatalf("unknown stream: %d", status)
	}
	// After all that, the stream holds exactly the 101 valid events.
	status, _, body = c.call("GET", "/v1/streams/"+rcStream, "", nil)
	info := decode[map[string]any](t, body)
	if status != 200 || info["messages"].(float64) != 101 || info["last_seq"].(float64) != 101 {
		t.Fatalf("info: %d %s", status, body)
	}
	if info["first_time"] != "2023-07-29T07:51:39Z" {
		t.Fatalf("first_time = %v", info["first_time"])
	}
}

func readPage(t *testing.T, c *client, query string) ([]map[string]any, string) {
	t.Helper()
	status, hdr, body := c.call("GET", "/v1/streams/"+rcStream+"/events?"+query, "", nil)
	if status != 200 {
		t.Fatalf("read %s: %d %s", query, status, body)
	}
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(body), []byte("\n")) {
		if len(line) > 0 {
			out = append(out, decode[map[string]any](t, line))
		}
	}
	return out, hdr.Get("Sluice-Next")
}

func TestReadRanges(t *testing.T) {
	n := start(t, t.TempDir())
	defer stop(t, n)
	c := newClient(t, n)
	events := recorded(t)
	if status, _, body := c.call("POST", "/v1/streams/"+rcStream+"/events", "application/x-ndjson", bytes.Join(events, []byte("\n"))); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	metaID := func(e map[string]any) string { return e["meta"].(map[string]any)["id"].(string) }
	wantID := func(i int) string {
		return decode[map[string]any](t, events[i])["meta"].(map[string]any)["id"].(string)
	}
	firstAt := func(ts time.Time) int { // brute force over the recorded times
		var runMax time.Time
		for i, e := range events {
			dt, _ := time.Parse(time.RFC3339, decode[map[string]any](t, e)["meta"].(map[string]any)["dt"].(string))
			if dt.After(runMax) {
				runMax = dt
			}
			if !runMax.Before(ts) {
				return i
			}
		}
		return len(events)
	}
	got, next := readPage(t, c, "")
	if len(got) != 100 || next != "101" || metaID(got[0]) != wantID(0) {
		t.Fatalf("default page: %d events, next %s", len(got), next)
	}
	got, next = readPage(t, c, "since=earliest&limit=30")
	if len(got) != 30 || next != "31" {
		t.Fatalf("limit: %d next %s", len(got), next)
	}
	got, next = readPage(t, c, "since=31&limit=30")
	if len(got) != 30 || next != "61" || metaID(got[0]) != wantID(30) {
		t.Fatalf("page 2: %d next %s", len(got), next)
	}
	ts := time.Date(2023, 7, 29, 7, 53, 0, 0, time.UTC)
	i := firstAt(ts)
	got, _ = readPage(t, c, "since=2023-07-29T07:53:00Z")
	if len(got) != 100-i || metaID(got[0]) != wantID(i) {
		t.Fatalf("since time: %d events, want %d", len(got), 100-i)
	}
	got, _ = readPage(t, c, fmt.Sprintf("since=%d", ts.UnixMilli()))
	if len(got) != 100-i || metaID(got[0]) != wantID(i) {
		t.Fatalf("since unix ms: %d events, want %d", len(got), 100-i)
	}
	got, next = readPage(t, c, "since=earliest&until=2023-07-29T07:53:00Z")
	if len(got) != i || next != fmt.Sprint(i+1) {
		t.Fatalf("until time: %d events, want %d", len(got), i)
	}
	got, _ = readPage(t, c, "since=10&until=20")
	if len(got) != 10 || metaID(got[0]) != wantID(9) || metaID(got[9]) != wantID(18) {
		t.Fatalf("until seq: %d", len(got))
	}
	if got, next = readPage(t, c, "since=latest"); len(got) != 0 || next != "101" {
		t.Fatalf("latest: %d next %s", len(got), next)
	}
	got, _ = readPage(t, c, "since=5&limit=1&envelope=true")
	if len(got) != 1 || got[0]["seq"].(float64) != 5 || got[0]["key"] != "enwiki/"+decode[map[string]any](t, events[4])["title"].(string) {
		t.Fatalf("envelope: %v", got)
	}
	for _, q := range []string{"since=yesterday", "until=-1", "limit=0", "limit=10001", "since=0"} {
		if status, _, body := c.call("GET", "/v1/streams/"+rcStream+"/events?"+q, "", nil); status != 400 {
			t.Errorf("%s: %d %s", q, status, body)
		}
	}
}

// subscribe opens an SSE subscription and returns its events on a channel.
func subscribe(t *testing.T, ctx context.Context, base, query, lastID string) <-chan sse.Event {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/streams/"+rcStream+"/events?"+query, nil)
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("subscribe: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan sse.Event, 1000)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		r := sse.NewReader(bufio.NewReader(resp.Body), 0)
		for {
			e, err := r.Next()
			if err != nil {
				return
			}
			ch <- e
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan sse.Event) sse.Event {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("subscription ended")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return sse.Event{}
}

func TestSubscribeFollowsAndResumes(t *testing.T) {
	n := start(t, t.TempDir())
	defer stop(t, n)
	c := newClient(t, n)
	events := recorded(t)
	produce := func(evs [][]byte) {
		if status, _, body := c.call("POST", "/v1/streams/"+rcStream+"/events", "application/x-ndjson", bytes.Join(evs, []byte("\n"))); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	produce(events[:40])

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Live: since=latest (the default) sees only what comes after.
	live := subscribe(t, ctx, c.base, "", "")
	// From the start, then resume after a disconnect.
	sub1Ctx, cut := context.WithCancel(ctx)
	sub1 := subscribe(t, sub1Ctx, c.base, "since=earliest", "")
	var seen []string
	for range 25 {
		e := next(t, sub1)
		if e.Type != "message" || e.ID != fmt.Sprint(len(seen)+1) {
			t.Fatalf("event %+v, want id %d", e, len(seen)+1)
		}
		seen = append(seen, e.ID)
	}
	cut() // the client drops the connection after event 25
	produce(events[40:70])
	// Last-Event-ID wins over since and resumes strictly after it.
	sub2 := subscribe(t, ctx, c.base, "since=earliest", "25")
	for i := 26; i <= 70; i++ {
		e := next(t, sub2)
		if e.ID != fmt.Sprint(i) {
			t.Fatalf("resume: got id %s, want %d (gap or repeat)", e.ID, i)
		}
		if want := string(events[i-1]); string(e.Data) != want {
			t.Fatalf("event %d data differs", i)
		}
	}
	// Live followers get new events as they are produced.
	for i := 41; i <= 70; i++ {
		if e := next(t, live); e.ID != fmt.Sprint(i) {
			t.Fatalf("live: got %s, want %d", e.ID, i)
		}
	}
	produce(events[70:71])
	if e := next(t, sub2); e.ID != "71" {
		t.Fatalf("follow after resume: %s", e.ID)
	}
	if e := next(t, live); e.ID != "71" {
		t.Fatalf("live: %s", e.ID)
	}
	// until ends the stream; limit too.
	bounded := subscribe(t, ctx, c.base, "since=3&until=6", "")
	var ids []string
	for e := range bounded {
		ids = append(ids, e.ID)
	}
	if strings.Join(ids, ",") != "3,4,5" {
		t.Fatalf("until: %v", ids)
	}
	// Resuming at the end of a bounded range: 204, so clients stop reconnecting.
	req, _ := http.NewRequest("GET", c.base+"/v1/streams/"+rcStream+"/events?since=3&until=6", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", "5")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("resume past until: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	limited := subscribe(t, ctx, c.base, "since=earliest&limit=2", "")
	ids = nil
	for e := range limited {
		ids = append(ids, e.ID)
	}
	if strings.Join(ids, ",") != "1,2" {
		t.Fatalf("limit: %v", ids)
	}
}

func TestRestartKeepsEventsAndCatalog(t *testing.T) {
	dir := t.TempDir()
	n := start(t, dir)
	c := newClient(t, n)
	events := recorded(t)
	if status, _, _ := c.call("POST", "/v1/streams/"+rcStream+"/events", "application/x-ndjson", bytes.Join(events[:60], []byte("\n"))); status != 200 {
		t.Fatal(status)
	}
	if status, _, body := c.call("POST", "/v1/streams", "application/json", []byte(`{"name":"made.by.api","schema":{"type":"object"},"id":"/id","time":"/t"}`)); status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	if status, _, body := c.call("PUT", "/v1/streams/made.by.api/schema", "application/json", []byte(`{"schema":{"type":"object","properties":{"x":{"type":"string"}}}}`)); status != 200 {
		t.Fatalf("schema v2: %d %s", status, body)
	}
	stop(t, n)

	n = start(t, dir)
	defer stop(t, n)
	c = newClient(t, n)
	got, next := readPage(t, c, "since=earliest&limit=1000")
	if len(got) != 60 || next != "61" {
		t.Fatalf("after restart: %d events", len(got))
	}
	// Sequences go on where they were, and ids are still remembered.
	status, _, body := c.call("POST", "/v1/streams/"+rcStream+"/events", "application/x-ndjson", bytes.Join(events[59:61], []byte("\n")))
	res := decode[produceResult](t, body)
	if status != 200 || !res.Events[0].Duplicate || res.Events[1].Seq != 61 {
		t.Fatalf("produce after restart: %s", body)
	}
	status, _, body = c.call("GET", "/v1/streams/made.by.api", "", nil)
	info := decode[map[string]any](t, body)
	if status != 200 || info["version"].(float64) != 2 || len(info["versions"].([]any)) != 2 {
		t.Fatalf("catalog after restart: %s", body)
	}
}

func TestSchemaEvolutionOverHTTP(t *testing.T) {
	n := start(t, t.TempDir())
	defer stop(t, n)
	c := newClient(t, n)
	status, _, body := c.call("POST", "/v1/streams", "application/json", []byte(`{"name":"orders","schema":{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"qty":{"type":"integer"}}},"id":"/id","time":"/at"}`))
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	if status, _, _ = c.call("POST", "/v1/streams", "application/json", []byte(`{"name":"orders","schema":{}}`)); status != 409 {
		t.Fatalf("create twice: %d", status)
	}
	if status, _, body = c.call("POST", "/v1/streams", "application/json", []byte(`{"name":"no.schema"}`)); status != 422 || !strings.Contains(string(body), "no schema, no stream") || !strings.Contains(string(body), `"path":"schema"`) {
		t.Fatalf("no schema: %d %s", status, body)
	}
	status, _, body = c.call("PUT", "/v1/streams/orders/schema", "application/json", []byte(`{"schema":{"type":"object","required":["id","qty"],"properties":{"id":{"type":"string"},"qty":{"type":"string"}}}}`))
	prob := decode[map[string]any](t, body)
	if status != 409 || len(prob["breaking"].([]any)) != 2 {
		t.Fatalf("breaking: %d %s", status, body)
	}
	status, _, body = c.call("PUT", "/v1/streams/orders/schema?force=true", "application/json", []byte(`{"schema":{"type":"object","required":["id","qty"],"properties":{"id":{"type":"string"},"qty":{"type":"string"}}}}`))
	if res := decode[map[string]any](t, body); status != 200 || res["forced"] != true || res["version"].(float64) != 2 {
		t.Fatalf("forced: %d %s", status, body)
	}
	if status, _, body = c.call("GET", "/v1/streams/orders/versions/1", "", nil); status != 200 {
		t.Fatalf("version 1: %d %s", status, body)
	}
	if status, _, _ = c.call("GET", "/v1/streams/orders/versions/9", "", nil); status != 404 {
		t.Fatalf("version 9: %d", status)
	}
	if status, _, _ = c.call("DELETE", "/v1/streams/orders", "", nil); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	if status, _, _ = c.call("GET", "/v1/streams/orders", "", nil); status != 404 {
		t.Fatalf("get deleted: %d", status)
	}
}

func TestOperations(t *testing.T) {
	n := start(t, t.TempDir())
	defer stop(t, n)
	c := newClient(t, n)
	for _, p := range []string{"/healthz", "/readyz", "/v1/streams"} {
		if status, _, body := c.call("GET", p, "", nil); status != 200 {
			t.Fatalf("%s: %d %s", p, status, body)
		}
	}
	c.call("POST", "/v1/streams/"+rcStream+"/events", "application/json", recorded(t)[0])
	c.call("POST", "/v1/streams/"+rcStream+"/events", "application/json", []byte(`{"meta":{}}`))
	_, _, body := c.call("GET", "/metrics", "", nil)
	for _, want := range []string{
		`sluice_events_produced_total{stream="wikimedia.recentchange"} 1`,
		`sluice_events_rejected_total{reason="schema",stream="wikimedia.recentchange"} 1`,
		`sluice_produce_seconds_bucket`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestInvokeFunction(t *testing.T) {
	n := start(t, t.TempDir())
	defer stop(t, n)
	c := newClient(t, n)
	status, _, body := c.call("GET", "/v1/functions", "", nil)
	if status != 200 || !strings.Contains(string(body), `"name":"jq"`) {
		t.Fatalf("list: %d %s", status, body)
	}
	events := recorded(t)
	req := fmt.Sprintf(`{"config":{"program":"select(.minor | not) | {title, wiki, n: (.namespace + 1)}"},"events":[%s,%s,{"namespace":"x"}]}`, events[0], events[1])
	status, _, body = c.call("POST", "/v1/functions/jq/invoke", "application/json", []byte(req))
	res := decode[struct {
		Results []struct {
			Index   int               `json:"index"`
			Outputs []json.RawMessage `json:"outputs"`
			Error   string            `json:"error"`
		} `json:"results"`
	}](t, body)
	if status != 200 || len(res.Results) != 3 || string(res.Results[0].Outputs[0]) != `{"n":1,"title":"EFL Championship","wiki":"enwiki"}` ||
		res.Results[2].Error == "" {
		t.Fatalf("invoke: %d %s", status, body)
	}
	if status, _, body = c.call("POST", "/v1/functions/jq/invoke", "application/json", []byte(`{"config":{"program":1},"events":[{}]}`)); status != 400 || !strings.Contains(string(body), "program: want string") {
		t.Fatalf("bad config: %d %s", status, body)
	}
	if status, _, _ = c.call("POST", "/v1/functions/nope/invoke", "application/json", []byte(`{"events":[{}]}`)); status != 404 {
		t.Fatalf("unknown function: %d", status)
	}
	// Invoking writes nothing.
	if _, _, body = c.call("GET", "/v1/streams/"+rcStream, "", nil); !strings.Contains(string(body), `"messages":0`) {
		t.Fatalf("invoke wrote events: %s", body)
	}
}
