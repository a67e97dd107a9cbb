package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
)

const adminText = "test-admin-token-0123456789"

// startAuth runs a node with access control on, its first admin token
// adminText: streams wiki.rc, wiki.out and team-a.x, a pipeline p from
// wiki.rc to wiki.out, a table t.
func startAuth(t *testing.T, dir string) *node.Node {
	t.Helper()
	t.Setenv(node.AdminTokenEnv, adminText)
	schema := `{type: object, required: [id, t], properties: {id: {type: string}, t: {type: string}}}`
	cfg, err := config.Parse([]byte(`
auth: {enabled: true}
streams:
  wiki.rc: {schema: ` + schema + `, id: /id, time: /t}
  wiki.out: {schema: ` + schema + `, id: /id, time: /t}
  team-a.x: {schema: ` + schema + `, id: /id, time: /t}
pipelines:
  p: {from: wiki.rc, start: earliest, function: {name: identity}, to: [{stream: wiki.out}]}
tables:
  t: {key: event.id, time: /t}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = dir, "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(t, n) })
	return n
}

// as makes a request with a bearer token ("" for none), checked against the document.
func (c *client) as(tok, method, path, body string, hdr ...string) (int, []byte) {
	c.t.Helper()
	ctype := ""
	if body != "" {
		ctype = "application/json"
	}
	if tok != "" {
		hdr = append(hdr, "Authorization", "Bearer "+tok)
	}
	code, _, data := c.call(method, path, ctype, []byte(body), hdr...)
	return code, data
}

// mint makes a token with the admin token.
func (c *client) mint(name string, grants ...string) string {
	c.t.Helper()
	var gs []map[string]string
	for _, g := range grants {
		res, role, _ := strings.Cut(g, "=")
		gs = append(gs, map[string]string{"resource": res, "role": role})
	}
	b, _ := json.Marshal(map[string]any{"name": name, "grants": gs})
	code, data := c.as(adminText, "POST", "/v1/tokens", string(b))
	if code != http.StatusCreated {
		c.t.Fatalf("create token %s: %d %s", name, code, data)
	}
	return decode[struct{ Token string }](c.t, data).Token
}

var open = map[string]bool{"healthz": true, "readyz": true, "openapi": true, "createSession": true, "deleteSession": true}

// TestEveryOperationNeedsAToken walks the OpenAPI document: every
// operation but the open ones answers 401 without a token and with a bad
// one, and the document says which are open.
func TestEveryOperationNeedsAToken(t *testing.T) {
	n := startAuth(t, t.TempDir())
	c := newClient(t, n)
	fill := regexp.MustCompile(`\{[a-z]+\}`)
	var ops []string
	for path, item := range c.doc.doc["paths"].(map[string]any) {
		for method, v := range item.(map[string]any) {
			op := v.(map[string]any)
			id := op["operationId"].(string)
			url := fill.ReplaceAllStringFunc(path, func(p string) string {
				return map[string]string{"{version}": "1", "{key}": "k", "{id}": "x"}[p] + map[bool]string{true: "wiki.rc"}[p == "{name}"]
			})
			sec, hasSec := op["security"].([]any)
			if hasSec && len(sec) == 0 {
				if !open[id] {
					t.Errorf("%s %s (%s) is open in the document", method, path, id)
				}
				continue
			}
			if open[id] {
				t.Errorf("%s should be open", id)
			}
			for _, tok := range []string{"", "sluice_aaaaaaaaaaaaaaaa_nope", "not-a-token", "sluice_aaaa*aaaaaaaaaaa_x", "sluice_AAAAAAAAAAAAAAAA_x"} {
				code, data := c.as(tok, strings.ToUpper(method), url, "{}")
				if code != http.StatusUnauthorized {
					t.Errorf("%s %s with token %q: %d %s, want 401", method, url, tok, code, data)
				}
			}
			ops = append(ops, id)
		}
	}
	sort.Strings(ops)
	if len(ops) < 40 {
		t.Fatalf("only %d operations checked: %v", len(ops), ops)
	}
	t.Logf("%d operations refuse a request without a token or with a bad one", len(ops))
	for _, path := range []string{"/healthz", "/readyz", "/openapi.json"} {
		if code, _ := c.as("", "GET", path, ""); code != http.StatusOK {
			t.Errorf("%s: %d without a token", path, code)
		}
	}
}

// TestRoles: for every role, a request it allows and one it refuses
// (403 naming the missing grant); a refused request changes nothing.
func TestRoles(t *testing.T) {
	dir := t.TempDir()
	n := startAuth(t, dir)
	c := newClient(t, n)
	event := func(id string) string { return fmt.Sprintf(`{"id":%q,"t":"2026-12-02T10:00:00Z"}`, id) }

	reader := c.mint("reader", "stream:wiki.*=read", "table:*=read")
	producer := c.mint("producer", "stream:wiki.rc=produce")
	invoker := c.mint("invoker", "function:jq=invoke")
	operator := c.mint("operator", "pipeline:p=operate")
	teamAdmin := c.mint("team-a", "stream:team-a.*=admin", "pipeline:team-a-*=admin")
	teamFull := c.mint("team-a-full", "stream:team-a.*=admin", "pipeline:team-a-*=admin", "function:identity=invoke", "function:team-a-*=admin", "source:team-a-*=admin")

	for _, tc := range []struct {
		name, tok, method, path, body string
		want                          int
		missing                       string
	}{
		{"read: a stream", reader, "GET", "/v1/streams/wiki.rc", "", 200, ""},
		{"read: a table", reader, "GET", "/v1/tables/t", "", 200, ""},
		{"read: not another's stream", reader, "GET", "/v1/streams/team-a.x", "", 403, "stream:team-a.x=read"},
		{"read: not produce", reader, "POST", "/v1/streams/wiki.rc/events", event("r1"), 403, "stream:wiki.rc=produce"},
		{"produce", producer, "POST", "/v1/streams/wiki.rc/events", event("p1"), 200, ""},
		{"produce: not a schema", producer, "PUT", "/v1/streams/wiki.rc/schema", `{"schema":{"type":"object"}}`, 403, "stream:wiki.rc=admin"},
		{"invoke", invoker, "POST", "/v1/functions/jq/invoke", `{"config":{"program":"{id}"},"events":[{"id":"a"}]}`, 200, ""},
		{"invoke: not another function", invoker, "POST", "/v1/functions/identity/invoke", `{"events":[{"id":"a"}]}`, 403, "function:identity=invoke"},
		{"operate", operator, "POST", "/v1/pipelines/p/pause", "", 200, ""},
		{"operate: not delete", operator, "DELETE", "/v1/pipelines/p", "", 403, "pipeline:p=admin"},
		{"operate: not the status of another", operator, "GET", "/v1/pipelines/q", "", 403, "pipeline:q=read"},
		{"admin: its streams", teamAdmin, "POST", "/v1/streams", `{"name":"team-a.y","schema":{"type":"object"}}`, 201, ""},
		{"admin: not others'", teamAdmin, "POST", "/v1/streams", `{"name":"team-b.y","schema":{"type":"object"}}`, 403, "stream:team-b.y=admin"},
		{"admin: no pipeline reading what it may not read", teamAdmin, "POST", "/v1/pipelines",
			`{"name":"team-a-p","from":"wiki.rc","function":{"name":"identity"},"to":[{"stream":"team-a.x"}]}`, 403, "stream:wiki.rc=read"},
		{"admin: a pipeline within its grants", teamAdmin, "POST", "/v1/pipelines",
			`{"name":"team-a-p","from":"team-a.x","function":{"name":"identity"},"to":[{"stream":"team-a.y"}]}`, 403, "function:identity=invoke"},
		{"admin: a pipeline within its grants and its function's", teamFull, "POST", "/v1/pipelines",
			`{"name":"team-a-p","from":"team-a.x","function":{"name":"identity"},"to":[{"stream":"team-a.y"}]}`, 201, ""},
		{"admin: not the tokens of others", teamAdmin, "POST", "/v1/tokens", `{"name":"x","grants":[{"resource":"*","role":"read"}]}`, 403, ""},
		{"admin: tokens within its grants", teamAdmin, "POST", "/v1/tokens", `{"name":"x","grants":[{"resource":"stream:team-a.x","role":"read"}]}`, 201, ""},
		{"admin: no function running a command on the node", teamFull, "POST", "/v1/functions",
			`{"name":"team-a-f","process":{"command":["/bin/sh","-c","id > /tmp/pwned"]}}`, 403, "*=admin"},
		{"admin: no function calling from the node", teamFull, "POST", "/v1/functions",
			`{"name":"team-a-g","http":{"url":"http://127.0.0.1:1/f"}}`, 403, "*=admin"},
		{"admin: no source", teamFull, "POST", "/v1/sources",
			`{"name":"team-a-s","file":{"path":"/etc/passwd"},"to":"team-a.x"}`, 403, "*=admin"},
		{"admin: no sql output", teamFull, "PUT", "/v1/pipelines/team-a-q",
			`{"from":"team-a.x","function":{"name":"identity"},"to":[{"sql":{"url":"sqlite:/tmp/x.db","table":"t"}}]}`, 403, "*=admin"},
		{"admin: no key given twice to hide an output", teamFull, "PUT", "/v1/pipelines/team-a-r",
			`{"from":"team-a.x","function":{"name":"identity"},"to":[{"stream":"team-a.x","stream":"wiki.out"}]}`, 403, "stream:wiki.out=produce"},
		{"nobody writes sluice.audit", adminText, "POST", "/v1/streams/sluice.audit/events", event("a1"), 403, ""},
		{"nobody deletes sluice.audit", adminText, "DELETE", "/v1/streams/sluice.audit", "", 403, ""},
		{"metrics: read on *", reader, "GET", "/metrics", "", 403, "*=read"},
	} {
		code, data := c.as(tc.tok, tc.method, tc.path, tc.body)
		if code != tc.want {
			t.Errorf("%s: %s %s: %d %s, want %d", tc.name, tc.method, tc.path, code, data, tc.want)
			continue
		}
		if tc.missing != "" {
			p := decode[struct {
				Detail  string
				Missing struct{ Resource, Role string }
			}](t, data)
			if got := p.Missing.Resource + "=" + p.Missing.Role; got != tc.missing {
				t.Errorf("%s: missing %q (%s), want %q", tc.name, got, p.Detail, tc.missing)
			}
		}
	}

	// What was refused changed nothing: p is there, paused (by the
	// operator) but not deleted; wiki.rc holds only the producer's event.
	if code, data := c.as(adminText, "GET", "/v1/pipelines/p", ""); code != 200 || !strings.Contains(string(data), `"paused"`) {
		t.Errorf("pipeline p after a refused delete: %d %s", code, data)
	}
	if code, data := c.as(adminText, "GET", "/v1/streams/wiki.rc/events", ""); code != 200 || strings.Count(string(data), "\n") != 1 || !strings.Contains(string(data), `"p1"`) {
		t.Errorf("wiki.rc after a refused produce: %d %q", code, data)
	}
	if code, _ := c.as(adminText, "GET", "/v1/streams/team-b.y", ""); code != 404 {
		t.Errorf("team-b.y made by a refused create: %d", code)
	}

	// Lists show only what the token may see.
	_, data := c.as(reader, "GET", "/v1/streams", "")
	var names []string
	for _, s := range decode[struct{ Streams []struct{ Name string } }](t, data).Streams {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "wiki.out,wiki.rc" {
		t.Errorf("the reader lists streams %v", names)
	}
	if _, data := c.as(operator, "GET", "/v1/pipelines", ""); strings.Count(string(data), `"name"`) != 1 {
		t.Errorf("the operator lists %s", data)
	}
	if code, _ := c.as(adminText, "GET", "/metrics", ""); code != 200 {
		t.Errorf("metrics with read on *: %d", code)
	}

	// A client claiming to be a node passing the request on keeps nothing out of the audit.
	if code, _, data := c.call("POST", "/v1/pipelines/p/resume", "", nil, "Authorization", "Bearer "+operator,
		"X-Sluice-Forwarded-By", "n2", "X-Sluice-Request-Id", "0b8e2ad4-2d5e-4a4a-9d8f-6f1c1c1c1c1c"); code != 200 {
		t.Fatalf("resume: %d %s", code, data)
	}

	// The audit: the admin actions, the operate action, and a refusal, with who.
	code, data := c.as(adminText, "GET", "/v1/streams/sluice.audit/events?limit=1000", "")
	if code != 200 {
		t.Fatalf("audit: %d %s", code, data)
	}
	audit := string(data)
	for _, want := range []string{`"action":"pausePipeline"`, `"name":"operator"`, `"action":"createStream"`, `"resource":"pipeline:p"`,
		`"status":403`, `"action":"createToken"`, `"grants":[{"resource":"stream:team-a.x","role":"read"}]`,
		`"action":"resumePipeline"`, `"forwarded_by":"n2"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit lacks %s:\n%s", want, audit)
		}
	}
	if strings.Contains(audit, "/tmp/pwned") {
		t.Error("the audit keeps the body of a refused request")
	}
	if code, _ := c.as(reader, "GET", "/v1/streams/sluice.audit/events", ""); code != 403 {
		t.Errorf("a reader of wiki.* read the audit: %d", code)
	}
	if code, _ := c.as(c.mint("all-reader", "*=read"), "GET", "/v1/streams/sluice.audit/events", ""); code != 403 {
		t.Errorf("a reader of * read the audit: %d", code)
	}

	// No token's text is in the data directory (nor the audit).
	for _, text := range []string{adminText, reader, producer, invoker, operator, teamAdmin, teamFull} {
		if strings.Contains(audit, text) {
			t.Errorf("the audit holds a token's text")
		}
	}
	_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, text := range []string{adminText, reader, producer, invoker, operator, teamAdmin, teamFull} {
			if strings.Contains(string(b), text) || strings.Contains(string(b), text[len(text)-20:]) {
				t.Errorf("%s holds a token's text", path)
			}
		}
		return nil
	})
}

// TestTokens: made, listed without their text, revoked and expired.
func TestTokens(t *testing.T) {
	n := startAuth(t, t.TempDir())
	c := newClient(t, n)
	code, data := c.as(adminText, "POST", "/v1/tokens", `{"name":"short","grants":[{"resource":"stream:*","role":"read"}],"expires":"1s"}`)
	if code != 201 {
		t.Fatalf("%d %s", code, data)
	}
	short := decode[struct{ ID, Token string }](t, data)
	reader := c.mint("reader", "stream:*=read")
	if code, _ := c.as(reader, "GET", "/v1/streams", ""); code != 200 {
		t.Fatalf("reader: %d", code)
	}
	_, data = c.as(adminText, "GET", "/v1/tokens", "")
	if strings.Contains(string(data), reader) || strings.Contains(string(data), short.Token) || strings.Contains(string(data), `"hash"`) {
		t.Errorf("the list shows a token's text or hash: %s", data)
	}
	list := decode[struct {
		Tokens []struct{ ID, Name string }
	}](t, data)
	if len(list.Tokens) != 3 || !strings.Contains(string(data), `"id":"admin"`) {
		t.Errorf("tokens: %s", data)
	}
	if code, _ := c.as(reader, "GET", "/v1/tokens", ""); code != 403 {
		t.Errorf("a reader listed the tokens: %d", code)
	}
	if code, _ := c.as(reader, "DELETE", "/v1/tokens/admin", ""); code != 403 {
		t.Errorf("a reader revoked the admin: %d", code)
	}

	// A token makes none that outlives it.
	hour := decode[struct{ Token string }](t, func() []byte {
		_, d := c.as(adminText, "POST", "/v1/tokens", `{"name":"hour","grants":[{"resource":"*","role":"admin"}],"expires":"1h"}`)
		return d
	}()).Token
	code, data = c.as(hour, "POST", "/v1/tokens", `{"name":"forever","grants":[{"resource":"stream:*","role":"read"}]}`)
	child := decode[struct{ Expires *time.Time }](t, data)
	if code != 201 || child.Expires == nil || time.Until(*child.Expires) > time.Hour {
		t.Errorf("a token of an hour made %d %s", code, data)
	}

	time.Sleep(1100 * time.Millisecond)
	code, data = c.as(short.Token, "GET", "/v1/streams", "")
	if code != 401 || !strings.Contains(string(data), "expired at") {
		t.Errorf("an expired token: %d %s", code, data)
	}
	for _, l := range list.Tokens {
		if l.Name == "reader" {
			if code, data := c.as(adminText, "DELETE", "/v1/tokens/"+l.ID, ""); code != 204 {
				t.Fatalf("revoke: %d %s", code, data)
			}
		}
	}
	code, data = c.as(reader, "GET", "/v1/streams", "")
	if code != 401 || !strings.Contains(string(data), "revoked") {
		t.Errorf("a revoked token: %d %s", code, data)
	}
}

// TestSession: the UI's sign-in sets an HttpOnly, SameSite=Strict
// cookie; changes made with it need the CSRF value and the node's own
// origin.
func TestSession(t *testing.T) {
	n := startAuth(t, t.TempDir())
	c := newClient(t, n)
	code, hdr, data := c.call("POST", "/v1/session", "application/json", []byte(`{"token":"`+adminText+`"}`))
	if code != 200 {
		t.Fatalf("sign in: %d %s", code, data)
	}
	cookie := hdr.Get("Set-Cookie")
	for _, want := range []string{"sluice_session=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "Expires") || strings.Contains(cookie, "Max-Age") {
		t.Errorf("cookie %q outlives the browser's session", cookie)
	}
	csrf := decode[struct{ CSRF string }](t, data).CSRF
	session := strings.Split(cookie, ";")[0]
	if code, _, data := c.call("GET", "/v1/session", "", nil, "Cookie", session); code != 200 || !strings.Contains(string(data), csrf) {
		t.Errorf("session: %d %s", code, data)
	}
	if code, _, _ := c.call("GET", "/v1/streams", "", nil, "Cookie", session); code != 200 {
		t.Errorf("read with the cookie: %d", code)
	}
	pause := "/v1/pipelines/p/pause"
	if code, _, data := c.call("POST", pause, "", nil, "Cookie", session); code != 403 || !strings.Contains(string(data), "CSRF") {
		t.Errorf("a change without the CSRF value: %d %s", code, data)
	}
	if code, _, _ := c.call("POST", pause, "", nil, "Cookie", session, "X-Sluice-CSRF", "wrong"); code != 403 {
		t.Errorf("a change with a wrong CSRF value: %d", code)
	}
	if code, _, data := c.call("POST", pause, "", nil, "Cookie", session, "X-Sluice-CSRF", csrf,
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); code != 403 {
		t.Errorf("a change from another site's page: %d %s", code, data)
	}
	if code, _, data := c.call("POST", pause, "", nil, "Cookie", session, "X-Sluice-CSRF", csrf, "Sec-Fetch-Site", "same-origin"); code != 200 {
		t.Errorf("a change with the CSRF value: %d %s", code, data)
	}
	if code, _, _ := c.call("POST", "/v1/session", "application/json", []byte(`{"token":"wrong-token-0123456789"}`)); code != 401 {
		t.Errorf("sign in with a wrong token: %d", code)
	}
	if code, hdr, _ := c.call("DELETE", "/v1/session", "", nil, "Cookie", session); code != 204 || !strings.Contains(hdr.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("sign out: %d %q", code, hdr.Get("Set-Cookie"))
	}
}

// TestSubscriptionEndsWithItsToken: a live subscription of a token that
// is revoked meanwhile ends within a second.
func TestSubscriptionEndsWithItsToken(t *testing.T) {
	n := startAuth(t, t.TempDir())
	c := newClient(t, n)
	reader := c.mint("reader", "stream:wiki.*=read")
	req, _ := http.NewRequest("GET", c.base+"/v1/streams/wiki.rc/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+reader)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribe: %v %v", resp, err)
	}
	defer resp.Body.Close()
	ended := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		close(ended)
	}()
	_, data := c.as(adminText, "GET", "/v1/tokens", "")
	for _, tok := range decode[struct{ Tokens []struct{ ID, Name string } }](t, data).Tokens {
		if tok.Name == "reader" {
			if code, _ := c.as(adminText, "DELETE", "/v1/tokens/"+tok.ID, ""); code != 204 {
				t.Fatal("revoke", code)
			}
		}
	}
	revoked := time.Now()
	select {
	case <-ended:
		t.Logf("the subscription ended %v after its token's revocation", time.Since(revoked).Round(time.Millisecond))
	case <-time.After(3 * time.Second):
		t.Fatal("the subscription outlived its token by 3 s")
	}
}
