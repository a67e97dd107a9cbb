package source_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/source"
	"github.com/sluice-dev/sluice/internal/source/eventsource"
	"github.com/sluice-dev/sluice/internal/source/file"
	"github.com/sluice-dev/sluice/internal/stream"
	"github.com/sluice-dev/sluice/internal/wikisim/eventstreams"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

const rc = "wikimedia.recentchange"

func recorded(t *testing.T) [][]byte {
	t.Helper()
	events, err := eventstreams.Load("../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson", "../../testdata/recentchange/capture-2022-12-11.sse")
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// feed serves events like EventStreams on loopback.
func feed(t *testing.T, events [][]byte, o eventstreams.Options) (*eventstreams.Server, string) {
	t.Helper()
	es := eventstreams.New(events, o)
	hs := httptest.NewServer(es)
	t.Cleanup(func() { es.Close(); hs.Close() })
	return es, hs.URL + "/v2/stream/recentchange"
}

// startNode runs a node whose source "rc" reads url into wikimedia.recentchange.
func startNode(t *testing.T, dir, url, extra string) *node.Node {
	t.Helper()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
streams:
  wikimedia.recentchange:
    schema: ../../testdata/schemas/mediawiki/recentchange/1.0.0.yaml
    key: [/wiki, /title]
sources:
  rc:
    sse:
      url: %s
      since: earliest-is-not-a-thing
      user_agent: "sluice-test/0 (tests; ops@example.org)"
      idle_timeout: 300ms
      max_backoff: 300ms
    to: wikimedia.recentchange
%s`, url, extra)))
	if err != nil {
		t.Fatal(err)
	}
	// the kind checks its settings (config only decodes them)
	kinds := source.NewRegistry(eventsource.Kind, file.Kind)
	if errs := kinds.Check("rc", cfg.Sources["rc"]); !strings.Contains(errs.Error(), "sse.since: ") {
		t.Fatalf("a bad since is not refused: %v", errs)
	}
	cfg, err = config.Parse([]byte(fmt.Sprintf(`
streams:
  wikimedia.recentchange:
    schema: ../../testdata/schemas/mediawiki/recentchange/1.0.0.yaml
    key: [/wiki, /title]
sources:
  rc:
    sse:
      url: %s
      user_agent: "sluice-test/0 (tests; ops@example.org)"
      idle_timeout: 300ms
      max_backoff: 300ms
    to: wikimedia.recentchange
%s`, url, extra)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = dir, "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func stop(t *testing.T, n *node.Node) {
	t.Helper()
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
}

// waitFor polls until the source has read want events (or 20 s pass).
func waitFor(t *testing.T, n *node.Node, want uint64) source.StatusView {
	t.Helper()
	var v source.StatusView
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		v, _ = n.Sources.Get("rc")
		if v.Stored+v.Duplicates+v.Dropped+v.DeadLettered >= want {
			return v
		}
	}
	t.Fatalf("source read %+v, want %d events", v, want)
	return v
}

// waitStored polls until the stream holds want events (or 20 s pass).
func waitStored(t *testing.T, n *node.Node, want int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if info, err := n.Streams.Info(context.Background(), rc); err == nil && info.Messages >= uint64(want) {
			return
		}
	}
	t.Fatalf("the stream did not reach %d events", want)
}

func ids(t *testing.T, events [][]byte) []string {
	t.Helper()
	var out []string
	for _, e := range events {
		var v struct {
			Meta struct{ ID string } `json:"meta"`
		}
		if err := json.Unmarshal(e, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v.Meta.ID)
	}
	return out
}

// storedIDs reads a whole stream and returns the meta.id of each event.
func storedIDs(t *testing.T, n *node.Node, name string) []string {
	t.Helper()
	c, err := n.Streams.Open(context.Background(), name, stream.Range{From: event.Position{Kind: event.Earliest}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []string
	for {
		e, err := c.Next(context.Background())
		if err != nil {
			return out
		}
		out = append(out, e.ID)
	}
}

func sameOrder(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stored %d events, want %d in feed order, each once\ngot  %.200v\nwant %.200v", len(got), len(want), got, want)
	}
}

func TestIngestsEveryEventOnceThroughFaults(t *testing.T) {
	events := recorded(t)
	es, url := feed(t, events, eventstreams.Options{DropEvery: 7, Status429Every: 4})
	dir := t.TempDir()
	n := startNode(t, dir, url, "")
	waitFor(t, n, 40)
	stop(t, n) // a restart in the middle
	n = startNode(t, dir, url, "")
	defer stop(t, n)
	waitStored(t, n, len(events))
	v, _ := n.Sources.Get("rc")
	sameOrder(t, storedIDs(t, n, rc), ids(t, events))
	if v.Reconnects == 0 || es.Connections() < 10 {
		t.Fatalf("faults did not happen: %+v, %d connections", v, es.Connections())
	}
	saw429, resumed := false, false
	for _, r := range es.Requests() {
		saw429 = saw429 || r.Status == 429
		resumed = resumed || r.LastEventID != ""
	}
	if !saw429 || !resumed {
		t.Fatalf("429 seen %v, resumed with Last-Event-ID %v", saw429, resumed)
	}
	if !strings.Contains(v.LastError, "429") && !strings.Contains(v.LastError, "EOF") {
		t.Fatalf("last error %q", v.LastError)
	}
}

func TestSilentFeedReconnects(t *testing.T) {
	events := recorded(t)
	es, url := feed(t, events, eventstreams.Options{SilentAfter: 25})
	n := startNode(t, t.TempDir(), url, "")
	defer stop(t, n)
	v := waitFor(t, n, uint64(len(events)))
	sameOrder(t, storedIDs(t, n, rc), ids(t, events))
	if v.Reconnects < 4 || !strings.Contains(v.LastError, "no data for 300ms") {
		t.Fatalf("silence not detected: %+v (%d connections)", v, es.Connections())
	}
}

func TestBadEventsGoToDeadLetters(t *testing.T) {
	events := recorded(t)[:10]
	big := bytes.Replace(events[3], []byte(`"comment":"`), []byte(`"comment":"`+strings.Repeat("long ", 20<<10)), 1)
	canary := bytes.Replace(events[4], []byte(`"domain":"en.wikipedia.org"`), []byte(`"domain":"canary"`), 1)
	invalid := bytes.Replace(events[5], []byte(`"bot":false`), []byte(`"bot":"no"`), 1)
	huge := bytes.Replace(events[6], []byte(`"comment":"`), []byte(`"comment":"`+strings.Repeat("x", 1536<<10)), 1)
	feedEvents := [][]byte{events[0], []byte(`{"not json`), events[1], big, canary, invalid, events[2], huge}
	_, url := feed(t, feedEvents, eventstreams.Options{})
	n := startNode(t, t.TempDir(), url, "")
	defer stop(t, n)
	v := waitFor(t, n, uint64(len(feedEvents)))
	if v.Stored != 4 || v.Dropped != 1 || v.DeadLettered != 3 || v.LagSeconds == nil || v.LastStoredTime == nil {
		t.Fatalf("status %+v", v)
	}
	// The events were recorded in 2023: the lag is how late they came when
	// stored, and it does not grow once the feed is quiet.
	if want := v.LastStoredTime.Sub(*v.LastEventTime).Seconds(); *v.LagSeconds != want {
		t.Fatalf("lag %vs, want stored minus event time %vs", *v.LagSeconds, want)
	}
	if later, _ := n.Sources.Get("rc"); later.LagSeconds == nil || *later.LagSeconds != *v.LagSeconds {
		t.Fatalf("the lag of a quiet feed moved: %v, then %v", *v.LagSeconds, later.LagSeconds)
	}
	sameOrder(t, storedIDs(t, n, rc), ids(t, [][]byte{events[0], events[1], big, events[2]}))
	if len(big) < 100<<10 {
		t.Fatalf("the big event is only %d bytes", len(big))
	}
	c, err := n.Streams.Open(context.Background(), rc+".dlq", stream.Range{From: event.Position{Kind: event.Earliest}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var dead []stream.DeadLetter
	for {
		e, err := c.Next(context.Background())
		if err != nil {
			break
		}
		var d stream.DeadLetter
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		dead = append(dead, d)
	}
	if len(dead) != 3 || dead[0].Raw != `{"not json` || dead[0].Errors[0].Keyword != "json" ||
		dead[1].Errors[0].Pointer != "/bot" || dead[1].Errors[0].Keyword != "type" || dead[1].Source != "rc" || dead[1].Stream != rc ||
		dead[2].Errors[0].Keyword != "sluice.size" || dead[2].RawBytes != len(huge) || len(dead[2].Raw) != 64<<10 {
		t.Fatalf("dead letters %+v", dead)
	}
}

func TestPauseAndResume(t *testing.T) {
	events := recorded(t)
	_, url := feed(t, events, eventstreams.Options{Rate: 200})
	dir := t.TempDir()
	n := startNode(t, dir, url, "")
	waitFor(t, n, 10)
	if _, err := n.Sources.SetPaused(context.Background(), "rc", true); err != nil {
		t.Fatal(err)
	}
	var v source.StatusView
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && v.State != source.Paused; time.Sleep(10 * time.Millisecond) {
		v, _ = n.Sources.Get("rc")
	}
	if v.State != source.Paused {
		t.Fatalf("not paused: %+v", v)
	}
	// Paused stays paused across a restart.
	stop(t, n)
	n = startNode(t, dir, url, "")
	defer stop(t, n)
	time.Sleep(200 * time.Millisecond)
	if v, _ := n.Sources.Get("rc"); v.State != source.Paused || v.EventsIn != 0 {
		t.Fatalf("after restart: %+v", v)
	}
	if _, err := n.Sources.SetPaused(context.Background(), "rc", false); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got := storedIDs(t, n, rc); len(got) == len(events) {
			sameOrder(t, got, ids(t, events))
			return
		}
	}
	t.Fatal("resume did not finish the feed")
}

func TestFileSourceImportsOnce(t *testing.T) {
	_, url := feed(t, nil, eventstreams.Options{})
	dir := t.TempDir()
	path := dir + "/import.ndjson"
	events := recorded(t)
	if err := os.WriteFile(path, bytes.Join(events, []byte("\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	extra := "  import:\n    file: {paths: [" + path + "]}\n    to: wikimedia.recentchange\n"
	n := startNode(t, t.TempDir(), url, extra)
	defer stop(t, n)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if v, _ := n.Sources.Get("import"); v.State == source.Finished {
			sameOrder(t, storedIDs(t, n, rc), ids(t, events))
			if v.LagSeconds != nil || v.LastStoredTime == nil {
				t.Fatalf("a file import (recorded events) has no lag in time: %+v", v)
			}
			return
		}
	}
	t.Fatal("file import did not finish")
}
