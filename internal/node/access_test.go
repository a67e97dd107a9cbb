package node_test

import (
	"context"
	"encoding/json"
	"io"
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

// authCall is a request with a bearer token.
func authCall(t *testing.T, n *node.Node, tok, method, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+n.Addr()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// TestRevokedOnAnotherNode: a token revoked through one node is refused
// by the other, which used it a moment before, within a second.
func TestRevokedOnAnotherNode(t *testing.T) {
	pg := testenv.PostgresSchema(t)
	dir := clusterDir(t, 1)
	f, err := os.OpenFile(filepath.Join(dir, "sluice.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("auth: {enabled: true}\nnats: {user: sluice, password: nats-secret}\n")
	_ = f.Close()
	const admin = "cluster-admin-token-0123456789"
	t.Setenv(node.AdminTokenEnv, admin)
	natsAddr := freeAddr(t)
	a, err := clusterNode(t, dir, "a", natsAddr, "", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, a)
	b, err := clusterNode(t, dir, "b", "", "nats://"+natsAddr, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, b)

	code, raw := authCall(t, a, admin, "POST", "/v1/tokens", `{"name":"r","grants":[{"resource":"stream:*","role":"read"}]}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, raw)
	}
	var made struct{ ID, Token string }
	_ = json.Unmarshal(raw, &made)
	// Made on a, used on b at once.
	if code, raw := authCall(t, b, made.Token, "GET", "/v1/streams/in", ""); code != 200 {
		t.Fatalf("b refused a token made on a: %d %s", code, raw)
	}
	if code, raw := authCall(t, a, admin, "DELETE", "/v1/tokens/"+made.ID, ""); code != 204 {
		t.Fatalf("revoke: %d %s", code, raw)
	}
	revoked := time.Now()
	for {
		code, _ := authCall(t, b, made.Token, "GET", "/v1/streams/in", "")
		if code == 401 {
			break
		}
		if time.Since(revoked) > time.Second {
			t.Fatalf("b still serves the token %v after its revocation on a", time.Since(revoked))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("b refused the token %v after its revocation on a", time.Since(revoked).Round(time.Millisecond))
}

// TestAuthWantsNATSCredentials: with access control on, an open NATS
// port would let any client past it; the node refuses to start so.
func TestAuthWantsNATSCredentials(t *testing.T) {
	cfg, err := config.Parse([]byte("auth: {enabled: true}\nnats: {listen: 127.0.0.1:0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	_, err = node.Start(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "set nats.user and nats.password") {
		t.Fatalf("auth with an open NATS port: %v", err)
	}
}
