package node_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
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

// trusting is a client that trusts the certificates in the PEM files and
// opens a new connection for each request (a new handshake: a rotated
// certificate shows).
func trusting(t *testing.T, pemFiles ...string) *http.Client {
	t.Helper()
	roots := x509.NewCertPool()
	for _, f := range pemFiles {
		raw, err := os.ReadFile(f)
		if err != nil || !roots.AppendCertsFromPEM(raw) {
			t.Fatalf("roots from %s: %v", f, err)
		}
	}
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{RootCAs: roots}}}
}

// tlsProject writes a project whose config serves https with the pair
// name.crt, name.key next to it (relative paths).
func tlsProject(t *testing.T, dir, name string) *config.Config {
	t.Helper()
	testenv.Cert(t, dir, name)
	yaml := "http:\n  tls: {cert: " + name + ".crt, key: " + name + ".key}\n"
	if err := os.WriteFile(filepath.Join(dir, "sluice.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "sluice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = filepath.Join(dir, "data"), "127.0.0.1:0"
	return cfg
}

func get(c *http.Client, url string) (*http.Response, error) {
	resp, err := c.Get(url)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func TestNodeServesHTTPS(t *testing.T) {
	defer node.SetCertCheck(50 * time.Millisecond)()
	dir := t.TempDir()
	cfg := tlsProject(t, dir, "a")
	var logs syncBuffer
	n, err := node.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, n)
	if want := "https://" + n.Addr(); n.URL() != want {
		t.Fatalf("URL %s, want %s", n.URL(), want)
	}
	if !strings.Contains(logs.String(), "addr="+n.URL()) {
		t.Errorf("the serving line does not say https: %s", logs.String())
	}
	newCert, newKey := testenv.Cert(t, t.TempDir(), "b") // served later
	c := trusting(t, filepath.Join(dir, "a.crt"), newCert)
	if resp, err := get(c, n.URL()+"/v1/streams"); err != nil || resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("https with the CA: %v %v", resp, err)
	}
	if resp, err := get(http.DefaultClient, "http://"+n.Addr()+"/v1/streams"); err == nil && resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain http to the TLS port: %d", resp.StatusCode)
	}
	if _, err := get(trusting(t, filepath.Join(dir, "a.crt")), n.URL()+"/healthz"); err != nil {
		t.Fatal(err)
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MaxVersion: tls.VersionTLS11,
		RootCAs: c.Transport.(*http.Transport).TLSClientConfig.RootCAs}}}
	if _, err := get(old, n.URL()+"/healthz"); err == nil {
		t.Fatal("TLS 1.1 was accepted")
	}

	// Rotation: a new pair written over the files is served without a
	// restart; a bad one is logged and the last good one kept.
	served := func() string {
		t.Helper()
		resp, err := get(c, n.URL()+"/healthz")
		if err != nil {
			t.Fatal(err)
		}
		return resp.TLS.PeerCertificates[0].Subject.CommonName
	}
	for _, f := range [][2]string{{newCert, "a.crt"}, {newKey, "a.key"}} {
		raw, _ := os.ReadFile(f[0])
		if err := os.WriteFile(filepath.Join(dir, f[1]), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the new certificate served", 5*time.Second, func() bool { return served() == "sluice test b" })
	if err := os.WriteFile(filepath.Join(dir, "a.key"), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the bad pair logged", 5*time.Second, func() bool {
		_ = served()
		return strings.Contains(logs.String(), "serving the previous certificate")
	})
	if got := served(); got != "sluice test b" {
		t.Fatalf("after a bad pair, serving %q", got)
	}
}

// Nodes that share a certificate pass each other requests over https:
// a pipeline's status asked of either node comes from the node running it.
func TestNodesForwardOverHTTPS(t *testing.T) {
	pg := testenv.PostgresSchema(t)
	dir := clusterDir(t, 2)
	cert, key := testenv.Cert(t, dir, "shared")
	natsAddr := freeAddr(t)
	start := func(name, listen, url string) *node.Node {
		cfg, err := config.Load(filepath.Join(dir, "sluice.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Data, cfg.Addr, cfg.Node = filepath.Join(dir, "data-"+name), "127.0.0.1:0", name
		cfg.NATS.Listen, cfg.NATS.URL, cfg.TableStore = listen, url, pg
		cfg.Cluster.LeaseTTL = config.Duration(clusterTTL)
		cfg.HTTP.TLS = config.TLS{Cert: cert, Key: key}
		n, err := node.Start(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	a := start("a", natsAddr, "")
	defer shutdown(t, a)
	b := start("b", "", "nats://"+natsAddr)
	defer shutdown(t, b)
	c := trusting(t, cert)
	getJSON := func(n *node.Node, path string) map[string]any {
		t.Helper()
		resp, err := c.Get(n.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return m
	}
	onB := ""
	waitUntil(t, "a pipeline on each node", 10*clusterTTL, func() bool {
		got := map[string]string{}
		for _, x := range getJSON(a, "/v1/cluster")["nodes"].([]any) {
			nd := x.(map[string]any)
			if ps := nd["runs"].(map[string]any)["pipelines"].([]any); len(ps) == 1 {
				got[nd["name"].(string)] = ps[0].(string)
			}
		}
		onB = got["b"]
		return got["a"] != "" && onB != ""
	})
	if m := getJSON(a, "/v1/pipelines/"+onB); m["node"] != "b" || m["state"] != "running" {
		t.Fatalf("GET /v1/pipelines/%s of a: node=%v state=%v", onB, m["node"], m["state"])
	}
	for _, x := range getJSON(a, "/v1/pipelines")["pipelines"].([]any) {
		if p := x.(map[string]any); p["state"] != "running" {
			t.Fatalf("a lists %v: not as its node says", p)
		}
	}
}

// TestSessionCookieIsSecureOverHTTPS: with access control over TLS, the
// UI's session cookie is Secure, so a browser never sends it in the clear.
func TestSessionCookieIsSecureOverHTTPS(t *testing.T) {
	dir := t.TempDir()
	cfg := tlsProject(t, dir, "a")
	cfg.Auth.Enabled = true
	t.Setenv(node.AdminTokenEnv, "tls-admin-token-0123456789")
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, n)
	c := trusting(t, filepath.Join(dir, "a.crt"))
	resp, err := c.Post(n.URL()+"/v1/session", "application/json", strings.NewReader(`{"token":"tls-admin-token-0123456789"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cookie := resp.Header.Get("Set-Cookie"); resp.StatusCode != 200 || !strings.Contains(cookie, "; Secure") || !strings.Contains(cookie, "HttpOnly") {
		t.Fatalf("sign in over https: %d, cookie %q", resp.StatusCode, cookie)
	}
}
