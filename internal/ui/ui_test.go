package ui_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/wikisim/eventstreams"
	"github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// project is the flagship pipeline against the simulated MediaWiki API,
// plus a replay source into a stream of its own (so the sources page has
// something to show). %[1]s is the repository root, %[2]s the API base,
// %[3]s the replay server.
const project = `
streams:
  wikimedia.recentchange:
    schema: %[1]s/testdata/schemas/mediawiki/recentchange/1.0.0.yaml
    id: /meta/id
    time: /meta/dt
    key: [/wiki, /title]
  replay.recentchange:
    schema: %[1]s/testdata/schemas/mediawiki/recentchange/1.0.0.yaml
    id: /meta/id
    time: /meta/dt
  wiki.page_images:
    schema: %[1]s/examples/wiki-images/schemas/wiki/page_images.json
    id: /meta/id
    time: /event_time
    key: [/wiki, /page_id]
sources:
  replay:
    sse: {url: "%[3]s/v2/stream/recentchange", user_agent: "sluice-test (ops@example.org)", since: "2023-07-29T00:00:00Z"}
    to: replay.recentchange
pipelines:
  wiki_image_list:
    from: wikimedia.recentchange
    start: earliest
    where: 'event.namespace == 0 && event.type in ["edit", "new"]'
    function:
      name: mediawiki.page_images
      config: {user_agent: "sluice-test (ops@example.org)", api_base: "%[2]s", max_attempts: 1, timeout: 5m}
    to:
      - stream: wiki.page_images
      - table: page_images
      - files: {url: "file:out", format: ndjson, roll: {max_age: 1s}}
tables:
  page_images:
    key: 'event.page_id == "" ? "" : event.wiki + ":" + event.page_id'
    time: /event_time
`

type fixture struct {
	n      *node.Node
	sim    *mediawiki.Server
	held   *heldAPI // the simulated API as the pipeline calls it
	base   string
	events [][]byte // the recorded events, stored in wikimedia.recentchange as sequences 1..100
}

func start(t *testing.T) *fixture {
	t.Helper()
	root, _ := filepath.Abs("../..")
	data, err := os.ReadFile(filepath.Join(root, "testdata/recentchange/enwiki-edits-2023-07-29.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	events := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	sim := mediawiki.New(mediawiki.Options{})
	held := &heldAPI{h: sim}
	api := httptest.NewServer(held)
	feed := eventstreams.New(events[:20], eventstreams.Options{})
	fs := httptest.NewServer(feed)
	cfg, err := config.Parse([]byte(fmt.Sprintf(project, root, api.URL, fs.URL)))
	if err != nil {
		t.Fatal(err)
	}
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
		feed.Close()
		fs.Close()
		sim.Close()
		api.Close()
	})
	f := &fixture{n: n, sim: sim, held: held, base: "http://" + n.Addr(), events: events}
	f.post(t, "/v1/streams/wikimedia.recentchange/events", "application/x-ndjson", bytes.Join(events, []byte("\n")), 200)
	return f
}

func (f *fixture) post(t *testing.T, path, ctype string, body []byte, want int) []byte {
	t.Helper()
	resp, err := http.Post(f.base+path, ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

func (f *fixture) get(t *testing.T, path string, out any) int {
	t.Helper()
	resp, err := http.Get(f.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func field(t *testing.T, raw []byte, path ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range path {
		v = v.(map[string]any)[p]
	}
	return v
}

func TestUI(t *testing.T) {
	f := start(t)
	b := newBrowser(t, f.base, 1280, 800)

	t.Run("streams page shows a stream the test created", func(t *testing.T) {
		b := b.on(t)
		f.post(t, "/v1/streams", "application/json", []byte(`{"name":"ui.test","schema":{"type":"object","required":["id","n"],
			"properties":{"id":{"type":"string"},"n":{"type":"integer"},"at":{"type":"string"}}},"id":"/id","time":"/at"}`), 201)
		b.open("/", `tr[data-stream="ui.test"]`)
		if got := b.text(`tr[data-stream="wikimedia.recentchange"] td:nth-child(3)`); got != "100" {
			t.Fatalf("events of wikimedia.recentchange: %q, want 100", got)
		}
		b.shot("streams")
	})

	t.Run("with access control off, no sign-in and no Tokens link", func(t *testing.T) {
		b := b.on(t)
		b.open("/ui/streams", `tr[data-stream="sluice.audit"]`) // sluice's own audit stream is there too
		var hdr struct{ Nav, Session, Tokens, Audit bool }
		b.eval(`({nav: !document.querySelector("header nav").hidden, session: !document.getElementById("session").hidden,
			tokens: !document.getElementById("nav-tokens").hidden, audit: !document.getElementById("nav-audit").hidden})`, &hdr)
		if !hdr.Nav || hdr.Session || hdr.Tokens || !hdr.Audit {
			t.Fatalf("the header with access control off: %+v, want the nav and the Audit link only", hdr)
		}
		b.open("/ui/signin", `main .view p`)
		if got := b.text(`main .view p`); !strings.Contains(got, "Access control is off") {
			t.Fatalf("the sign-in page with access control off: %s", got)
		}
	})

	t.Run("a produced event appears in the live tail within 2 s", func(t *testing.T) {
		b := b.on(t)
		b.open("/ui/streams/ui.test", `.status.connected`)
		f.post(t, "/v1/streams/ui.test/events", "application/json", []byte(`{"id":"live-1","n":1,"at":"2026-11-27T10:00:00Z"}`), 200)
		b.waitJS("the event in the live tail", `document.querySelector('details.event[data-id="live-1"]') !== null`, 2*time.Second)
		// a burst: every event shows, newest first
		var burst bytes.Buffer
		for i := 2; i <= 301; i++ {
			fmt.Fprintf(&burst, `{"id":"live-%d","n":%d,"at":"2026-11-27T10:00:00Z"}`+"\n", i, i)
		}
		f.post(t, "/v1/streams/ui.test/events", "application/x-ndjson", burst.Bytes(), 200)
		b.waitJS("the burst in the live tail", `document.querySelectorAll("details.event").length === 301`, 5*time.Second)
		var first string
		b.eval(`document.querySelector("details.event").dataset.id`, &first)
		if first != "live-301" {
			t.Fatalf("newest first: the top row is %s", first)
		}
		// pause keeps what was received and holds new ones back
		b.run("pause", 5*time.Second, chromedpClick(`button[aria-pressed]`))
		f.post(t, "/v1/streams/ui.test/events", "application/json", []byte(`{"id":"while-paused","n":0,"at":"2026-11-27T10:00:01Z"}`), 200)
		b.waitJS("the paused count", `document.querySelector(".status").textContent.includes("paused, 1 new")`, 2*time.Second)
		b.eval(`document.querySelector("details.event").dataset.id`, &first)
		if first == "while-paused" {
			t.Fatal("a paused live view showed a new event")
		}
		b.run("resume", 5*time.Second, chromedpClick(`button[aria-pressed]`))
		b.waitJS("the held event after resume", `document.querySelector("details.event").dataset.id === "while-paused"`, 2*time.Second)
		b.run("open the newest event", 5*time.Second, chromedpClick(`details.event summary`))
		b.waitJS("its JSON", `document.querySelector("details.event[open] .json") !== null`, 2*time.Second)
		b.shot("stream-live")
	})

	t.Run("seek to a time shows the right first event", func(t *testing.T) {
		b := b.on(t)
		ts := time.Date(2023, 7, 29, 7, 53, 0, 0, time.UTC)
		want := 0 // brute force: the first event whose running maximum of meta.dt reaches ts
		var runMax time.Time
		for i, e := range f.events {
			dt, _ := time.Parse(time.RFC3339, field(t, e, "meta", "dt").(string))
			if dt.After(runMax) {
				runMax = dt
			}
			if !runMax.Before(ts) {
				want = i + 1
				break
			}
		}
		b.open("/ui/streams/wikimedia.recentchange?mode=browse&since=earliest", `details.event`)
		b.run("seek", 10*time.Second,
			chromedpSetValue(`input[name=since]`, ts.Format(time.RFC3339)),
			chromedpClick(`form.toolbar button[type=submit]`))
		b.waitJS("the page at the time", fmt.Sprintf(`document.querySelector("details.event") && document.querySelector("details.event").dataset.seq === "%d"`, want), 5*time.Second)
		wantID := field(t, f.events[want-1], "meta", "id").(string)
		var gotID string
		b.eval(`document.querySelector("details.event").dataset.id`, &gotID)
		if gotID != wantID {
			t.Fatalf("first event after the seek: id %s, want %s", gotID, wantID)
		}
		var loc string
		b.eval(`location.search`, &loc)
		if q, _ := url.ParseQuery(strings.TrimPrefix(loc, "?")); q.Get("since") != fmt.Sprint(want) || q.Get("mode") != "browse" {
			t.Fatalf("the address does not hold the position: %s", loc)
		}
		b.shot("stream-browse")
	})

	t.Run("filter with CEL", func(t *testing.T) {
		b := b.on(t)
		var bots []string
		for _, e := range f.events {
			if field(t, e, "bot") == true {
				bots = append(bots, field(t, e, "meta", "id").(string))
			}
		}
		b.open("/ui/streams/wikimedia.recentchange?mode=browse&since=earliest", `details.event`)
		b.run("filter", 10*time.Second,
			chromedpSetValue(`input[name=filter]`, `event.bot == true`),
			chromedpClick(`form.toolbar button[type=submit]`))
		b.waitJS("filtered events", fmt.Sprintf(`document.querySelectorAll("details.event").length === %d && location.search.includes("filter=")`, min(len(bots), 50)), 5*time.Second)
		var ids []string
		b.eval(`[...document.querySelectorAll("details.event")].map(e => e.dataset.id)`, &ids)
		for i, id := range ids {
			if id != bots[i] {
				t.Fatalf("filtered event %d: id %s, want %s", i, id, bots[i])
			}
		}
		// a bad expression says why, on the page
		b.run("bad filter", 10*time.Second,
			chromedpSetValue(`input[name=filter]`, `event.bot ==`),
			chromedpClick(`form.toolbar button[type=submit]`))
		b.waitJS("the filter's error", `document.querySelector(".error-box") && document.querySelector(".error-box").textContent.includes("filter")`, 5*time.Second)
	})

	t.Run("a recentchange row shows its preview fields, and the stream page changes them", func(t *testing.T) {
		b := b.on(t)
		b.open("/ui/streams/wikimedia.recentchange?mode=browse&since=earliest", `details.event`)
		want := fmt.Sprintf("title=%s · wiki=%s · user=%s · type=%s", field(t, f.events[0], "title"), field(t, f.events[0], "wiki"),
			field(t, f.events[0], "user"), field(t, f.events[0], "type"))
		if got := b.text(`details.event .preview`); got != want || strings.Contains(got, `{"$schema"`) {
			t.Fatalf("the first row: %q, want %q", got, want)
		}
		if got := b.text(`details.preview-fields summary`); !strings.Contains(got, "/title, /wiki, /user, /type (from the schema)") {
			t.Fatalf("the row fields: %q", got)
		}
		b.run("open the row fields", 5*time.Second, chromedpClick(`details.preview-fields summary`))
		b.shot("stream-preview")
		b.run("set the row fields", 10*time.Second, chromedpSetValue(`input[name=preview]`, "/user, /meta/domain"),
			chromedpClick(`form.preview-form button[type=submit]`))
		want = fmt.Sprintf("user=%s · meta/domain=%s", field(t, f.events[0], "user"), field(t, f.events[0], "meta", "domain"))
		b.waitJS("rows by the new fields", fmt.Sprintf(`document.querySelector("details.event .preview")?.textContent === %s`, jsString(want)), 5*time.Second)
		var st struct {
			Preview []string `json:"preview"`
			Version int      `json:"version"`
		}
		if f.get(t, "/v1/streams/wikimedia.recentchange", &st); strings.Join(st.Preview, " ") != "/user /meta/domain" || st.Version != 1 {
			t.Fatalf("the stream after the change: %+v", st)
		}
		b.run("back to the default", 10*time.Second, chromedpClick(`details.preview-fields summary`),
			chromedpSetValue(`input[name=preview]`, ""), chromedpClick(`form.preview-form button[type=submit]`))
		b.waitJS("rows by the default", `document.querySelector("details.event .preview")?.textContent.startsWith("title=")`, 5*time.Second)
	})

	t.Run("table lookup at a time shows the right value", func(t *testing.T) {
		b := b.on(t)
		// every qualifying recorded edit has its version once the pipeline caught up
		var st struct {
			LagEvents uint64 `json:"lag_events"`
			Position  uint64 `json:"position"`
		}
		waitFor(t, "the pipeline to catch up", 30*time.Second, func() bool {
			f.get(t, "/v1/pipelines/wiki_image_list", &st)
			return st.Position >= 100 && st.LagEvents == 0
		})
		// a key with at least two versions, and a time between them
		var page struct {
			Versions []struct {
				Key       string `json:"key"`
				ValidFrom string `json:"valid_from"`
			} `json:"versions"`
		}
		f.get(t, "/v1/tables/page_images?limit=1000", &page)
		var key string
		var hist struct {
			Versions []struct {
				ValidFrom string          `json:"valid_from"`
				Value     json.RawMessage `json:"value"`
			} `json:"versions"`
		}
		for _, v := range page.Versions {
			f.get(t, "/v1/tables/page_images/keys/"+url.PathEscape(v.Key)+"/history", &hist)
			if len(hist.Versions) >= 2 {
				key = v.Key
				break
			}
		}
		if key == "" {
			t.Fatalf("no key with two versions among %d", len(page.Versions))
		}
		t0, _ := time.Parse(time.RFC3339, hist.Versions[0].ValidFrom)
		at := t0.Add(time.Second).Format(time.RFC3339) // the first version is valid then (edits are seconds apart at least)
		var want struct {
			ValidFrom string `json:"valid_from"`
			Value     struct {
				Title  string   `json:"title"`
				Images []string `json:"image_list"`
			} `json:"value"`
		}
		if f.get(t, "/v1/tables/page_images/keys/"+url.PathEscape(key)+"?at="+url.QueryEscape(at), &want) != 200 {
			t.Fatalf("no value for %s at %s", key, at)
		}
		if want.ValidFrom != hist.Versions[0].ValidFrom && !sameTime(want.ValidFrom, hist.Versions[0].ValidFrom) {
			t.Fatalf("the API's version at %s starts %s, want the first, %s", at, want.ValidFrom, hist.Versions[0].ValidFrom)
		}
		b.open("/ui/tables/page_images", `input[name=key]`)
		b.run("look up", 10*time.Second,
			chromedpSetValue(`input[name=key]`, key), chromedpSetValue(`input[name=at]`, at),
			chromedpClick(`form.toolbar button[type=submit]`))
		b.waitJS("the version", `document.querySelector("#table-result .version") !== null`, 5*time.Second)
		got := b.text(`#table-result .version`)
		if !strings.Contains(got, fmtUI(want.ValidFrom)) {
			t.Fatalf("the UI's version does not start at %s:\n%s", fmtUI(want.ValidFrom), got)
		}
		for _, img := range want.Value.Images {
			if !strings.Contains(got, img) {
				t.Fatalf("the UI's value lacks image %q:\n%s", img, got)
			}
		}
		// the page's title and its number of images, in the version and in the keys at that time
		count := fmt.Sprintf("%d image", len(want.Value.Images))
		if title, images := b.text(`#table-result .version .title`), b.text(`#table-result .version .images`); title != want.Value.Title || !strings.HasPrefix(images, count) {
			t.Fatalf("the UI's version says title %q and %q, want %q and %q", title, images, want.Value.Title, count)
		}
		b.waitJS("the key among the keys", fmt.Sprintf(`[...document.querySelectorAll("table.grid tbody tr")].some(tr => tr.querySelector("td button").textContent === %q)`, key), 5*time.Second)
		var row []string
		b.eval(fmt.Sprintf(`[...[...document.querySelectorAll("table.grid tbody tr")].find(tr => tr.querySelector("td button").textContent === %q).cells].map(td => td.textContent)`, key), &row)
		if len(row) < 3 || row[1] != want.Value.Title || row[2] != strconv.Itoa(len(want.Value.Images)) {
			t.Fatalf("the key's row: %q, want title %q and %d images", row, want.Value.Title, len(want.Value.Images))
		}
		b.waitJS("the history timeline", fmt.Sprintf(`document.querySelectorAll("ol.versions > li").length === %d && document.querySelector("ol.versions > li.current") === document.querySelector("ol.versions > li")`, len(hist.Versions)), 5*time.Second)
		// before the first version there is no value, and the page says so
		b.run("look up before", 10*time.Second, chromedpSetValue(`input[name=at]`, t0.Add(-time.Hour).Format(time.RFC3339)), chromedpClick(`form.toolbar button[type=submit]`))
		b.waitJS("no value", `document.querySelector("#table-result .notice") !== null`, 5*time.Second)
		b.run("look up now", 10*time.Second, chromedpSetValue(`input[name=at]`, ""), chromedpClick(`form.toolbar button[type=submit]`))
		b.waitJS("the current version", `document.querySelector("#table-result .version") !== null`, 5*time.Second)
		b.shot("table")
	})

	t.Run("a dead letter shows its error and redrive empties the list", func(t *testing.T) {
		b := b.on(t)
		var before struct {
			Failed uint64 `json:"failed"`
		}
		f.get(t, "/v1/pipelines/wiki_image_list", &before)
		f.sim.SetStatus5xxEvery(1)
		ev := bytes.Replace(f.events[0], []byte(`"id":"0416300b-980c-45bb-b0a2-c9d7a9e2b7eb"`), []byte(`"id":"ui-dead-letter-1"`), 1)
		f.post(t, "/v1/streams/wikimedia.recentchange/events", "application/json", ev, 200)
		var st struct {
			Failed uint64 `json:"failed"`
		}
		waitFor(t, "the dead letter", 30*time.Second, func() bool {
			f.get(t, "/v1/pipelines/wiki_image_list", &st)
			return st.Failed > before.Failed
		})
		f.sim.SetStatus5xxEvery(0)
		b.open("/ui/pipelines", `#pipeline-wiki_image_list details.dead summary`)
		b.run("open the dead letters", 5*time.Second, chromedpClick(`#pipeline-wiki_image_list details.dead summary`))
		b.waitJS("the dead letter", `document.querySelectorAll("#pipeline-wiki_image_list li.dead-letter").length === 1`, 5*time.Second)
		if got := b.text(`#pipeline-wiki_image_list li.dead-letter`); !strings.Contains(got, "503") {
			t.Fatalf("the dead letter does not say what failed:\n%s", got)
		}
		if got := b.text(`#pipeline-wiki_image_list table.files tbody`); !strings.Contains(got, "ndjson") {
			t.Fatalf("the files output is not shown: %s", got)
		}
		b.shot("pipelines")
		// The redrive waits in the function (the API holds its requests): the
		// card shows it running, and pause and resume still work meanwhile.
		f.held.hold()
		b.run("redrive", 5*time.Second, chromedpClick(`#pipeline-wiki_image_list button.redrive`))
		card := `document.querySelector("#pipeline-wiki_image_list")`
		b.waitJS("the running redrive", card+`.querySelector(".operation[data-state=running]") !== null && `+
			card+`.querySelector(".operation .counts").textContent.includes("dead letters") && `+card+`.querySelector("button.redrive")?.disabled === true`, 10*time.Second)
		b.shot("pipelines-redrive")
		b.run("pause", 5*time.Second, chromedpClick(`#pipeline-wiki_image_list .head button`))
		b.waitJS("paused while the redrive runs", card+`.querySelector(".head .badge").textContent === "paused" && `+
			card+`.querySelector(".operation[data-state=running]") !== null`, 10*time.Second)
		b.run("resume", 5*time.Second, chromedpClick(`#pipeline-wiki_image_list .head button`))
		b.waitJS("resumed while the redrive runs", card+`.querySelector(".head .badge").textContent === "running" && `+
			card+`.querySelector(".operation[data-state=running]") !== null`, 10*time.Second)
		f.held.release()
		b.waitJS("the redrive's end", card+`.querySelector(".operation[data-state=succeeded]") !== null && `+
			card+`.querySelector(".operation .counts").textContent.includes("1 through") && `+card+`.querySelector("button.redrive")?.disabled === false`, 10*time.Second)
		b.waitJS("an empty list", `document.querySelector("#pipeline-wiki_image_list .dead-list") === null && document.querySelector("#pipeline-wiki_image_list details.dead .empty") !== null`, 10*time.Second)
	})

	t.Run("a message published straight to NATS shows as a dead letter with its bytes", func(t *testing.T) {
		b := b.on(t)
		var before struct {
			Failed uint64 `json:"failed"`
		}
		f.get(t, "/v1/pipelines/wiki_image_list", &before)
		if _, err := engine.Append(context.Background(), f.n.Engine, "wikimedia.recentchange", []engine.Msg{{Data: []byte("raw \xff bytes")}}); err != nil {
			t.Fatal(err)
		}
		var st struct {
			Failed uint64 `json:"failed"`
		}
		waitFor(t, "the dead letter", 30*time.Second, func() bool {
			f.get(t, "/v1/pipelines/wiki_image_list", &st)
			return st.Failed > before.Failed
		})
		b.open("/ui/pipelines", `#pipeline-wiki_image_list details.dead summary`)
		b.run("open the dead letters", 5*time.Second, chromedpClick(`#pipeline-wiki_image_list details.dead summary`))
		b.waitJS("the dead letter", `document.querySelectorAll("#pipeline-wiki_image_list li.dead-letter .foreign").length === 1`, 5*time.Second)
		b.run("open its input", 5*time.Second, chromedpClick(`#pipeline-wiki_image_list li.dead-letter details summary`))
		if got := b.text(`#pipeline-wiki_image_list li.dead-letter`); !strings.Contains(got, "Sluice-Id") ||
			!strings.Contains(got, base64.StdEncoding.EncodeToString([]byte("raw \xff bytes"))) || !strings.Contains(got, "raw \ufffd bytes") {
			t.Fatalf("the dead letter does not show the bytes:\n%s", got)
		}
		b.shot("pipelines-foreign")
		// A redrive fails it again: it stays.
		b.run("redrive", 5*time.Second, chromedpClick(`#pipeline-wiki_image_list button.redrive`))
		b.waitJS("the redrive's end", `document.querySelector("#pipeline-wiki_image_list .operation[data-state=succeeded] .counts") !== null && `+
			`document.querySelector("#pipeline-wiki_image_list .operation .counts").textContent.includes("1 failed again")`, 10*time.Second)
		b.waitJS("the dead letter still there", `document.querySelectorAll("#pipeline-wiki_image_list li.dead-letter .foreign").length === 1`, 5*time.Second)
	})

	t.Run("a rebuild shows its progress and the table answers after it", func(t *testing.T) {
		b := b.on(t)
		var page struct {
			Versions []struct {
				Key string `json:"key"`
			} `json:"versions"`
		}
		f.get(t, "/v1/tables/page_images?limit=1", &page)
		if len(page.Versions) == 0 {
			t.Fatal("the table is empty")
		}
		b.open("/ui/tables/page_images", `button.rebuild`)
		b.run("rebuild", 5*time.Second, js(`window.confirm = () => true`), chromedpClick(`button.rebuild`))
		b.waitJS("the rebuild's end", `document.querySelector(".table-ops .operation[data-state=succeeded]") !== null && `+
			`document.querySelector(".table-ops .operation .counts").textContent.includes("written") && document.querySelector("button.rebuild").disabled === false`, 20*time.Second)
		b.shot("table-rebuild")
		b.run("look up", 10*time.Second, chromedpSetValue(`input[name=key]`, page.Versions[0].Key), chromedpSetValue(`input[name=at]`, ""),
			chromedpClick(`form.toolbar button[type=submit]`))
		b.waitJS("the version", `document.querySelector("#table-result .version") !== null`, 5*time.Second)
	})

	t.Run("every other page renders", func(t *testing.T) {
		b := b.on(t)
		var pl struct {
			History []struct {
				LagEvents *uint64 `json:"lag_events"`
			} `json:"history"`
		}
		if f.get(t, "/v1/pipelines/wiki_image_list", &pl); len(pl.History) == 0 || pl.History[0].LagEvents == nil {
			t.Fatalf("the pipeline has no history sample: %+v", pl)
		}
		b.open("/ui/sources", `#source-replay dl.kv`)
		b.waitJS("the replay read", `document.querySelector("#source-replay").textContent.includes("streaming")`, 10*time.Second)
		b.shot("sources")
		// what the config file defined is in the catalog, with its history
		b.run("the source's history", 5*time.Second, chromedpClick(`#source-replay details.def-history > summary`))
		b.waitJS("its first version", `document.querySelector('#source-replay li.def-version[data-version="1"][data-op="create"]') !== null`, 5*time.Second)
		b.open("/ui/functions", `#fn-mediawiki\.page_images`)
		b.run("try identity", 10*time.Second,
			chromedpClick(`#fn-identity summary`),
			js(`document.querySelectorAll("#fn-identity textarea")[0].value = "{}"`))
		b.run("fill events", 5*time.Second, js(`document.querySelectorAll("#fn-identity textarea")[1].value = '{"title":"A"}'`),
			chromedpClick(`#fn-identity form button[type=submit]`))
		b.waitJS("the output", `document.querySelector("#fn-identity .invoke-result .json") !== null`, 5*time.Second)
		// page_images' network targets are operator fields: left out of the
		// config to edit, and taken from the pipeline's config (the simulated API).
		pi := `document.getElementById("fn-mediawiki.page_images")`
		var cfgText string
		b.eval(pi+`.querySelectorAll("textarea")[0].value`, &cfgText)
		if strings.Contains(cfgText, "api_base") || strings.Contains(cfgText, "allowed_hosts") || !strings.Contains(cfgText, "batch_size") {
			t.Fatalf("page_images' config to edit: %s", cfgText)
		}
		b.run("try page_images", 10*time.Second, chromedpClick(`#fn-mediawiki\.page_images summary`),
			js(pi+`.querySelectorAll("textarea")[0].value = '{"user_agent": "sluice-test (ops@example.org)", "max_attempts": 1}'`),
			js(pi+`.querySelectorAll("textarea")[1].value = `+jsString(string(f.events[0]))),
			chromedpClick(`#fn-mediawiki\.page_images form button[type=submit]`))
		// An output (not an error) means the simulated API answered: without
		// the pipeline's api_base the function would have asked the real wiki.
		b.waitJS("its output", pi+`.querySelector(".invoke-result .json, .invoke-result .error-box") !== null`, 20*time.Second)
		var res struct {
			Note  bool   `json:"note"`
			Error string `json:"error"`
		}
		b.eval(`({note: `+pi+`.querySelector(".operator-note") !== null, error: (`+pi+`.querySelector(".invoke-result .error-box") || {}).textContent || ""})`, &res)
		if !res.Note || res.Error != "" {
			t.Fatalf("page_images try it: %+v", res)
		}
		b.shot("functions")
		// the cluster page: this one node, running the replay source and the pipeline
		b.open("/ui/cluster", `#cluster table.grid tbody tr`)
		b.waitJS("what the node runs", `(document.querySelector("#cluster tbody tr") || {textContent: ""}).textContent.includes("this node") && `+
			`document.querySelector("#cluster tbody tr").textContent.includes("wiki_image_list") && document.querySelector("#cluster tbody tr").textContent.includes("replay")`, 10*time.Second)
		b.shot("cluster")
		b.open("/ui/api", `details#listStreams`)
		b.run("try listStreams", 10*time.Second, chromedpClick(`details#listStreams summary`), chromedpClick(`details#listStreams form button[type=submit]`))
		b.waitJS("its answer", `document.querySelector("details#listStreams .try-result").textContent.includes("200")`, 5*time.Second)
		b.shot("api")
		b.open("/ui/streams/wikimedia.recentchange?tab=schema", `.json`)
		b.run("the stream's history", 5*time.Second, chromedpClick(`details.def-history > summary`))
		b.waitJS("its first version", `document.querySelector('li.def-version[data-version="1"][data-op="create"]') !== null`, 5*time.Second)
		var nullText bool // a part the tab lacks (a second version to compare) written as the text null
		b.eval(`[...document.querySelector("#panel").childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent === "null")`, &nullText)
		if nullText {
			t.Fatal(`the schema tab shows "null"`)
		}
		b.open("/ui/streams/ui.test?tab=commands", `dl.cmds`)
		b.open("/ui/streams/ui.test?tab=produce", `textarea[name=events]`)
		b.run("produce one good, one bad", 10*time.Second,
			chromedpSetValue(`textarea[name=events]`, `{"id":"form-1","n":1,"at":"2026-11-27T10:00:02Z"}`+"\n"+`{"id":"form-2","n":"two","at":"2026-11-27T10:00:02Z"}`),
			chromedpClick(`#panel form button[type=submit]`))
		b.waitJS("per-event errors inline", `document.querySelector("#produce-result ul.invalid") && document.querySelector("#produce-result").textContent.includes("/n")`, 5*time.Second)
		if got := b.text(`#produce-result`); !strings.Contains(got, "1 stored") || !strings.Contains(got, "event 1") || !strings.Contains(got, "type") {
			t.Fatalf("produce result: %s", got)
		}
		b.shot("stream-produce")
	})

	t.Run("phone width", func(t *testing.T) {
		p := newBrowser(t, f.base, 390, 844)
		p.open("/ui/streams/wikimedia.recentchange", `details.event`)
		var overflow bool
		p.eval(`document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow)
		if overflow {
			t.Fatal("the stream page scrolls sideways at 390 px")
		}
		p.shot("stream-phone")
	})
}

// heldAPI serves h; between hold and release, requests wait.
type heldAPI struct {
	h    http.Handler
	mu   sync.Mutex
	gate chan struct{}
}

func (a *heldAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	g := a.gate
	a.mu.Unlock()
	if g != nil {
		select {
		case <-g:
		case <-r.Context().Done():
			return
		}
	}
	a.h.ServeHTTP(w, r)
}

func (a *heldAPI) hold() {
	a.mu.Lock()
	a.gate = make(chan struct{})
	a.mu.Unlock()
}

func (a *heldAPI) release() {
	a.mu.Lock()
	if a.gate != nil {
		close(a.gate)
		a.gate = nil
	}
	a.mu.Unlock()
}

func sameTime(a, b string) bool {
	ta, err1 := time.Parse(time.RFC3339Nano, a)
	tb, err2 := time.Parse(time.RFC3339Nano, b)
	return err1 == nil && err2 == nil && ta.Equal(tb)
}

// fmtUI is how the UI writes a time: UTC, to the second, a space for T.
func fmtUI(s string) string {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return strings.Replace(t.UTC().Format("2006-01-02T15:04:05Z"), "T", " ", 1)
}
