package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
)

// formProject has an input stream with events, an output stream and a
// table, and no pipeline: the test makes one in the form.
const formProject = `
streams:
  orders:
    schema: {type: object, required: [id, at, qty], properties: {id: {type: string}, at: {type: string}, qty: {type: integer}}}
    id: /id
    time: /at
  big.orders:
    schema: {type: object, required: [id, at]}
    id: /id
    time: /at
tables:
  order_sizes: {key: event.id, time: /at}
`

// TestPipelineForm creates a pipeline in the form on a running node (a
// function with a config from its kind's fields, a stream output), tries
// it on the input stream's last events, is refused a bad where next to the
// field, saves it, edits its where, and finds both versions in its history
// with a diff naming where.
func TestPipelineForm(t *testing.T) {
	cfg, err := config.Parse([]byte(formProject))
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
		http.DefaultClient.CloseIdleConnections()
	})
	f := &fixture{n: n, base: "http://" + n.Addr()}
	var events bytes.Buffer
	for i := 1; i <= 12; i++ { // the last 10 are o3..o12, qty 30..120
		fmt.Fprintf(&events, `{"id":"o%d","at":"2026-12-01T10:00:%02dZ","qty":%d}`+"\n", i, i, i*10)
	}
	f.post(t, "/v1/streams/orders/events", "application/x-ndjson", events.Bytes(), 200)
	b := newBrowser(t, f.base, 1280, 900)
	form := `form.pipeline-form`

	b.open("/ui/pipelines", `a.new-pipeline`)
	b.run("new pipeline", 10*time.Second, chromedpClick(`a.new-pipeline`), chromedp.WaitReady(chromedp.CSS(form+` select[name=from] option[value=orders]`)))
	b.run("fill the form", 10*time.Second,
		chromedpSetValue(form+` input[name=name]`, "big-orders"),
		chromedpSelect(form+` select[name=from]`, "orders"),
		chromedpSelect(form+` select[name=start-kind]`, "earliest"),
		chromedpSetValue(form+` textarea[name=where]`, "event.qty > 100"),
		chromedpSelect(form+` select[name=function]`, "jq"),
		chromedp.WaitVisible(chromedp.CSS(form+` [data-path="function.config.program"] textarea, `+form+` [data-path="function.config.program"] input`)),
		chromedpSetValue(form+` [name="config.program"]`, "{id, at, qty, big: true}"),
		chromedpClick(form+` button.add-output`),
		chromedpSelect(form+` li.output select.output-kind`, "stream"),
		chromedpSelect(form+` li.output select.output-name`, "big.orders"))
	b.run("to the top", 5*time.Second, js(`window.scrollTo(0, 0)`))
	b.shot("pipeline-form")

	t.Run("dry run", func(t *testing.T) {
		b := b.on(t)
		b.run("dry run", 10*time.Second, chromedpClick(form+` button.dry-run-button`))
		b.waitJS("10 events tried", `document.querySelectorAll("li.dry-event").length === 10`, 10*time.Second)
		var outcomes map[string]string
		b.eval(`Object.fromEntries([...document.querySelectorAll("li.dry-event")].map(e => [e.dataset.seq, e.dataset.outcome]))`, &outcomes)
		for seq := 3; seq <= 12; seq++ {
			want := "filtered"
			if seq*10 > 100 {
				want = "outputs"
			}
			if got := outcomes[fmt.Sprint(seq)]; got != want {
				t.Fatalf("event #%d: %s, want %s (all: %v)", seq, got, want, outcomes)
			}
		}
		if got := b.text(`li.dry-event[data-seq="12"]`); !strings.Contains(got, `"big"`) || !strings.Contains(got, "o12") {
			t.Fatalf("the output of #12: %s", got)
		}
		// An output the output stream would refuse (no time) is that event's error.
		b.run("an output without a time", 10*time.Second,
			chromedpSetValue(form+` [name="config.program"]`, "if .qty == 120 then {id, qty} else {id, at, qty, big: true} end"),
			chromedpClick(form+` button.dry-run-button`))
		b.waitJS("the error of #12", `document.querySelector('li.dry-event[data-seq="12"][data-outcome="error"] .error-box') !== null && `+
			`document.querySelector('li.dry-event[data-seq="11"]').dataset.outcome === "outputs"`, 10*time.Second)
		if got := b.text(`li.dry-event[data-seq="12"] .error-box`); !strings.Contains(got, "big.orders") {
			t.Fatalf("the error of #12 does not name the output stream: %s", got)
		}
		b.run("to the results", 5*time.Second, js(`document.querySelector('li.dry-event[data-seq="9"]').scrollIntoView()`))
		b.shot("pipeline-dry-run")
		b.run("the program again", 5*time.Second, chromedpSetValue(form+` [name="config.program"]`, "{id, at, qty, big: true}"))
		b.run("a bad where", 10*time.Second, chromedpSetValue(form+` textarea[name=where]`, "event.qty >"), chromedpClick(form+` button.dry-run-button`))
		b.waitJS("the where's error next to it", `document.querySelector('[data-path="where"] .field-error') !== null`, 10*time.Second)
		b.run("the good where again", 5*time.Second, chromedpSetValue(form+` textarea[name=where]`, "event.qty > 100"))
	})

	b.run("save a bad where", 10*time.Second, chromedpSetValue(form+` textarea[name=where]`, "event.qty >"), chromedpClick(form+` button[type=submit]`))
	b.waitJS("the where's error next to it", `document.querySelector('[data-path="where"] .field-error') !== null`, 10*time.Second)
	if got := b.text(`[data-path="where"] .field-error`); !strings.Contains(got, "Syntax error") {
		t.Fatalf("the where's error: %s", got)
	}
	b.shot("pipeline-form-error")
	b.run("save", 10*time.Second, chromedpSetValue(form+` textarea[name=where]`, "event.qty > 100"), chromedpClick(form+` button[type=submit]`))
	card := `#pipeline-big-orders`
	b.waitJS("the new pipeline in the list", `document.querySelector("`+card+` .badge.version")?.textContent === "v1"`, 10*time.Second)
	if got := b.text(card); strings.Contains(got, "null") { // a missing part (no last error) is not written as null
		t.Fatalf("the card: %s", got)
	}
	var spec struct {
		Spec json.RawMessage `json:"spec"`
	}
	f.get(t, "/v1/pipelines/big-orders", &spec)
	if want := `{"from":"orders","function":{"config":{"program":"{id, at, qty, big: true}"},"name":"jq"},"start":"earliest","to":[{"stream":"big.orders"}],"where":"event.qty \u003e 100"}`; string(spec.Spec) != want {
		t.Fatalf("the saved spec:\n%s\nwant\n%s", spec.Spec, want)
	}
	waitFor(t, "the outputs", 10*time.Second, func() bool {
		var st struct{ Outputs int }
		f.get(t, "/v1/pipelines/big-orders", &st)
		return st.Outputs == 2
	})

	b.run("edit", 10*time.Second, chromedpClick(card+` a.edit`), chromedp.WaitVisible(chromedp.CSS(form+` textarea[name=where]`)))
	var loaded []string
	b.eval(`[...document.querySelectorAll("form.pipeline-form textarea[name=where], form.pipeline-form [name='config.program'], form.pipeline-form select.output-name")].map(e => e.value)`, &loaded)
	if strings.Join(loaded, "|") != "event.qty > 100|{id, at, qty, big: true}|big.orders" {
		t.Fatalf("the edit form shows %q", loaded)
	}
	// Another input stream needs a reset position: the API's 409 shows there.
	b.run("change from", 10*time.Second, chromedpSelect(form+` select[name=from]`, "big.orders"), chromedpClick(form+` button[type=submit]`))
	b.waitJS("the reset's error", `document.querySelector('[data-path="reset"] .field-error') !== null`, 10*time.Second)
	b.run("edit where", 10*time.Second, chromedpSelect(form+` select[name=from]`, "orders"),
		chromedpSetValue(form+` textarea[name=where]`, "event.qty > 50"), chromedpClick(form+` button[type=submit]`))
	b.waitJS("the new version in the list", `document.querySelector("`+card+` .badge.version")?.textContent === "v2"`, 10*time.Second)

	b.run("open the history", 10*time.Second, chromedpClick(card+` details.def-history > summary`))
	b.waitJS("two versions", `document.querySelectorAll("`+card+` li.def-version").length === 2`, 10*time.Second)
	var hist struct {
		Versions []string `json:"versions"`
		Fields   string   `json:"fields"`
		Diff     string   `json:"diff"`
	}
	b.eval(`(() => { const li = [...document.querySelectorAll("`+card+` li.def-version")];
		return { versions: li.map(e => e.dataset.version + " " + e.dataset.op), fields: li[0].querySelector(".changed-fields")?.textContent || "",
			diff: li[0].querySelector("pre.diff")?.textContent || "" } })()`, &hist)
	if strings.Join(hist.Versions, ",") != "2 update,1 create" || !strings.Contains(hist.Fields, "where") ||
		!strings.Contains(hist.Diff, `-   "where": "event.qty > 100"`) || !strings.Contains(hist.Diff, `+   "where": "event.qty > 50"`) {
		t.Fatalf("the history: %+v", hist)
	}
	b.shot("pipeline-history")
}

// chromedpSelect chooses an option of a select, as a person would (a change event follows).
func chromedpSelect(sel, v string) chromedp.Action[chromedp.Void] {
	return js(fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (![...e.options].some(o => o.value === %s)) throw new Error("no option " + %s);
		e.value = %s; e.dispatchEvent(new Event("change", {bubbles: true})); return true })()`, jsString(sel), jsString(v), jsString(v), jsString(v)))
}
