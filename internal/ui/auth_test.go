package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
)

// authProject is a node with access control on: two streams a token of
// stream:wiki.*=read may read, and a pipeline an admin pauses.
const authProject = `
auth: {enabled: true}
streams:
  wiki.rc:
    schema: {type: object, required: [id, at]}
    id: /id
    time: /at
  wiki.copy:
    schema: {type: object, required: [id, at]}
    id: /id
    time: /at
pipelines:
  copy: {from: wiki.rc, start: earliest, function: {name: identity}, to: [{stream: wiki.copy}]}
`

const adminToken = "sluice-ui-test-admin-token-0123456789"

// call makes a request from Go with a bearer token; it answers the status
// and the body.
func call(t *testing.T, base, method, path, bearer string, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestSignIn drives the UI of a node with access control on: signing in
// (a wrong token refused, the session cookie out of the page's reach), a
// change carrying the CSRF value, a token made on the Tokens page whose
// text is shown once and works from Go within its grants until it is
// revoked there, pages of a limited token showing the grant it lacks,
// a session that ends sending the browser to sign in and back, and
// signing out.
func TestSignIn(t *testing.T) {
	t.Setenv(node.AdminTokenEnv, adminToken)
	cfg, err := config.Parse([]byte(authProject))
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
	base := "http://" + n.Addr()
	if st, b := call(t, base, "POST", "/v1/streams/wiki.rc/events", adminToken, `{"id":"e1","at":"2026-12-01T10:00:00Z"}`); st != 200 {
		t.Fatalf("produce as admin: %d %s", st, b)
	}
	b := newBrowser(t, base, 1280, 800)

	// Signed out, any page is the sign-in page, which keeps the address.
	b.open("/ui/streams", `form.signin input[type=password]`)
	var loc struct{ Path, Search string }
	b.eval(`({path: location.pathname, search: location.search})`, &loc)
	if loc.Path != "/ui/signin" || loc.Search != "?next=%2Fui%2Fstreams" {
		t.Fatalf("signed out, /ui/streams went to %s%s", loc.Path, loc.Search)
	}
	var hidden bool
	b.eval(`document.querySelector("header nav").hidden && document.getElementById("session").hidden`, &hidden)
	if !hidden {
		t.Fatal("signed out, the header shows the nav or a session")
	}

	// A wrong token: the problem's detail, and the field emptied.
	b.run("a wrong token", 10*time.Second, chromedpSetValue(`form.signin input[name=token]`, "sluice_nope_nope"), chromedpClick(`form.signin button[type=submit]`))
	b.waitJS("the refusal", `(document.querySelector("#signin-result .error-box") || {textContent: ""}).textContent.includes("unknown or was revoked")`, 5*time.Second)
	var left string
	b.eval(`document.querySelector("form.signin input[name=token]").value`, &left)
	if left != "" {
		t.Fatalf("the token field keeps %q after the attempt", left)
	}
	b.shot("signin")

	// The admin token: back to the streams, named in the header.
	b.run("the admin token", 10*time.Second, chromedpSetValue(`form.signin input[name=token]`, adminToken), chromedpClick(`form.signin button[type=submit]`))
	b.waitJS("the streams", `location.pathname === "/ui/streams" && document.querySelector('tr[data-stream="wiki.rc"]') !== null`, 10*time.Second)
	if got := b.text(`#session .token-name`); got != "admin" {
		t.Fatalf("the header names the token %q, want admin", got)
	}
	var kept struct {
		Cookie  string
		Storage int
	}
	b.eval(`({cookie: document.cookie, storage: localStorage.length + sessionStorage.length})`, &kept)
	if strings.Contains(kept.Cookie, "sluice_session") || kept.Storage != 0 {
		t.Fatalf("the page can read the session: document.cookie %q, %d items in web storage", kept.Cookie, kept.Storage)
	}
	var links struct{ Tokens, Audit bool }
	b.eval(`({tokens: !document.getElementById("nav-tokens").hidden, audit: !document.getElementById("nav-audit").hidden})`, &links)
	if !links.Tokens || !links.Audit {
		t.Fatalf("an admin of * sees the links %+v, want both", links)
	}

	// A change from the UI carries the CSRF value: the same request from
	// the page without it is refused.
	b.open("/ui/pipelines", `#pipeline-copy .head button`)
	b.run("pause", 5*time.Second, chromedpClick(`#pipeline-copy .head button`))
	b.waitJS("paused", `document.querySelector("#pipeline-copy .head .badge").textContent === "paused"`, 10*time.Second)
	if got := b.text(`#pipeline-copy`); strings.Contains(got, "null") {
		t.Fatalf("the pipeline's card shows null: %s", got)
	}
	var bare int
	b.await(`fetch("/v1/pipelines/copy/resume", {method: "POST"}).then(r => r.status)`, &bare)
	if bare != 403 {
		t.Fatalf("a change with the cookie and no CSRF header: %d, want 403", bare)
	}

	// The Tokens page: the form checks the lines, the node the rest; a
	// token made there is shown once.
	b.run("the Tokens link", 5*time.Second, chromedpClick(`#nav-tokens`))
	b.waitJS("the tokens", `document.querySelector('table.tokens tr[data-token="admin"]') !== null`, 5*time.Second)
	b.run("a bad role", 5*time.Second, chromedpSetValue(`form.token-form input[name=name]`, "wiki-reader"),
		chromedpSetValue(`form.token-form textarea[name=grants]`, "stream:wiki.*=reader"), chromedpClick(`form.token-form button[type=submit]`))
	b.waitJS("the form's error", `document.getElementById("grants-error").textContent.includes("want one of read")`, 5*time.Second)
	b.run("a bad kind", 5*time.Second, chromedpSetValue(`form.token-form textarea[name=grants]`, "strem:wiki.*=read"), chromedpClick(`form.token-form button[type=submit]`))
	b.waitJS("the node's error", `(document.querySelector(".token-result .error-box") || {textContent: ""}).textContent.includes("strem")`, 5*time.Second)
	b.run("make it", 5*time.Second, chromedpSetValue(`form.token-form textarea[name=grants]`, "stream:wiki.*=read"),
		chromedpSetValue(`form.token-form input[name=expires]`, "720h"), chromedpClick(`form.token-form button[type=submit]`))
	b.waitJS("its text", `(document.querySelector(".new-token input.token-text") || {value: ""}).value.startsWith("sluice_") && `+
		`[...document.querySelectorAll("table.tokens td")].some(td => td.textContent === "wiki-reader")`, 5*time.Second)
	var made struct{ Text, ID, Notice string }
	b.eval(`({text: document.querySelector(".new-token input.token-text").value, notice: document.querySelector(".new-token").textContent,
		id: [...document.querySelectorAll("table.tokens tr[data-token]")].find(tr => tr.textContent.includes("wiki-reader")).dataset.token})`, &made)
	if !strings.Contains(made.Notice, "will not be shown again") {
		t.Fatalf("the new token's notice: %s", made.Notice)
	}
	b.run("no toast", time.Second, js(`Object.assign(document.getElementById("toast"), {className: ""}).style.transition = "none"`)) // the pause's, for the screenshot
	b.shot("tokens")
	b.open("/ui/tokens", `table.tokens tr[data-token="`+made.ID+`"]`)
	var again bool
	b.eval(`document.body.innerHTML.includes(`+jsString(made.Text)+`)`, &again)
	if again {
		t.Fatal("the token's text is on the Tokens page again")
	}

	// From Go, the text reads a stream it has read on and may not produce.
	if st, body := call(t, base, "GET", "/v1/streams/wiki.rc/events?since=earliest", made.Text, ""); st != 200 {
		t.Fatalf("read with the new token: %d %s", st, body)
	}
	if st, body := call(t, base, "POST", "/v1/streams/wiki.rc/events", made.Text, `{"id":"e2","at":"2026-12-01T10:00:01Z"}`); st != 403 || !bytes.Contains(body, []byte("produce")) {
		t.Fatalf("produce with the new token: %d %s, want 403 naming produce", st, body)
	}

	// Revoked on the page, it is refused within a second.
	b.run("revoke", 5*time.Second, js(`window.confirm = () => true`), chromedpClick(`tr[data-token="`+made.ID+`"] button.revoke`))
	b.waitJS("the row gone", `document.querySelector('tr[data-token="`+made.ID+`"]') === null`, 5*time.Second)
	waitFor(t, "the revoked token refused", 3*time.Second, func() bool {
		st, _ := call(t, base, "GET", "/v1/streams/wiki.rc/events?since=earliest", made.Text, "")
		return st == 401
	})

	// The audit has what was done.
	b.run("the Audit link", 5*time.Second, chromedpClick(`#nav-audit`))
	b.waitJS("the audit's events", `location.pathname === "/ui/streams/sluice.audit" && document.querySelector("details.event") !== null && `+
		`document.getElementById("nav-audit").getAttribute("aria-current") === "page"`, 10*time.Second)

	// Signing out clears the cookie: the page's next call is refused.
	b.run("sign out", 5*time.Second, chromedpClick(`#session button.sign-out`))
	b.waitJS("the sign-in page", `location.pathname === "/ui/signin" && document.querySelector("form.signin") !== null`, 5*time.Second)
	var after int
	b.await(`fetch("/v1/session").then(r => r.status)`, &after)
	if after != 401 {
		t.Fatalf("GET /v1/session after signing out: %d, want 401", after)
	}

	// A token with less: pages show the grant it lacks, and the links it
	// may not follow are not there.
	var limited struct {
		Text string `json:"token"`
		ID   string `json:"id"`
	}
	st, body := call(t, base, "POST", "/v1/tokens", adminToken, `{"name":"reader","grants":[{"resource":"stream:wiki.*","role":"read"}]}`)
	if st != 201 || json.Unmarshal(body, &limited) != nil {
		t.Fatalf("make a token from Go: %d %s", st, body)
	}
	b.run("sign in with less", 10*time.Second, chromedpSetValue(`form.signin input[name=token]`, limited.Text), chromedpClick(`form.signin button[type=submit]`))
	b.waitJS("its streams", `document.querySelector('tr[data-stream="wiki.rc"]') !== null && document.querySelector('tr[data-stream="sluice.audit"]') === null`, 10*time.Second)
	b.eval(`({tokens: !document.getElementById("nav-tokens").hidden, audit: !document.getElementById("nav-audit").hidden})`, &links)
	if links.Tokens || links.Audit {
		t.Fatalf("a reader sees the links %+v, want neither", links)
	}
	for _, page := range []string{"/ui/cluster", "/ui/tokens", "/ui/streams/sluice.audit"} {
		b.open(page, `.error-box`)
		if got := b.text(`.error-box`); !strings.Contains(got, "403") || !strings.Contains(got, "has no grant") {
			t.Fatalf("%s for a reader: %s", page, got)
		}
	}
	// Lists show what it may see (none here) and no page throws.
	for _, page := range []string{"/ui/pipelines", "/ui/sources", "/ui/tables", "/ui/functions", "/ui/api"} {
		b.open(page, `main .view h1`)
		b.waitJS(page+" loaded", `!document.querySelector("main").textContent.includes("Loading")`, 5*time.Second)
	}
	b.open("/ui/streams/wiki.rc", `details.event`)

	// Its session ends (revoked elsewhere): the next call sends the
	// browser to sign in, and signing in comes back to where it was.
	if st, body := call(t, base, "DELETE", "/v1/tokens/"+limited.ID, adminToken, ""); st != 204 {
		t.Fatalf("revoke from Go: %d %s", st, body)
	}
	time.Sleep(time.Second) // every node reads a token again within a second
	b.run("to the pipelines", 5*time.Second, chromedpClick(`nav a[data-page=pipelines]`))
	b.waitJS("the sign-in page", `location.pathname === "/ui/signin" && location.search === "?next=%2Fui%2Fpipelines" && document.querySelector("form.signin") !== null`, 5*time.Second)
	b.run("sign in again", 10*time.Second, chromedpSetValue(`form.signin input[name=token]`, adminToken), chromedpClick(`form.signin button[type=submit]`))
	b.waitJS("back on the pipelines", `location.pathname === "/ui/pipelines" && document.querySelector("#pipeline-copy") !== null`, 10*time.Second)
}
