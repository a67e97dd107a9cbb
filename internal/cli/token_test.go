package cli

import (
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
)

// TestTokenCommands: with access control on, the CLI signs its requests
// with --token or SLUICE_TOKEN; token create prints the text once, ls
// lists without it, rm revokes.
func TestTokenCommands(t *testing.T) {
	const admin = "cli-admin-token-0123456789"
	t.Setenv(node.AdminTokenEnv, admin)
	t.Setenv("SLUICE_TOKEN", "")
	cfg := config.Default()
	cfg.Auth.Enabled = true
	srv := startConfigured(t, cfg).URL()

	code, _, errOut := run(t, srv, "stream", "ls")
	if code == 0 || !strings.Contains(errOut, "401") || !strings.Contains(errOut, "--token or SLUICE_TOKEN") {
		t.Fatalf("without a token: exit %d, %q", code, errOut)
	}
	out := mustRun(t, srv, "--token", admin, "token", "create", "readers", "--grant", "stream:wiki.*=read", "--expires", "30d")
	text := regexp.MustCompile(`sluice_[a-z0-9]{16}_[A-Za-z0-9_-]{43}`).FindString(out)
	id := regexp.MustCompile(`\(([a-z0-9]{16})\)`).FindStringSubmatch(out)
	if text == "" || id == nil {
		t.Fatalf("token create:\n%s", out)
	}
	t.Setenv("SLUICE_TOKEN", admin)
	ls := mustRun(t, srv, "token", "ls")
	if !regexp.MustCompile(`(?m)^`+id[1]+` +readers +stream:wiki\.\*=read `).MatchString(ls) || strings.Contains(ls, text) {
		t.Errorf("token ls:\n%s", ls)
	}
	// The reader's token: lists streams (none of wiki.* yet), may not make tokens.
	t.Setenv("SLUICE_TOKEN", text)
	mustRun(t, srv, "stream", "ls")
	if code, _, errOut := run(t, srv, "token", "create", "x", "--grant", "*=admin"); code == 0 || !strings.Contains(errOut, "403") {
		t.Errorf("a reader made an admin token: exit %d %q", code, errOut)
	}
	if code, _, errOut := run(t, srv, "token", "create", "x"); code == 0 || !strings.Contains(errOut, "--grant: at least one") {
		t.Errorf("no grant: exit %d %q", code, errOut)
	}
	if code, _, errOut := run(t, srv, "token", "create", "x", "--grant", "stream:x=root"); code == 0 || !strings.Contains(errOut, `role "root"`) {
		t.Errorf("a bad role: exit %d %q", code, errOut)
	}
	if code, _, errOut := run(t, srv, "token", "rm"); code == 0 || !strings.Contains(errOut, "wants ID") {
		t.Errorf("rm without an id: exit %d %q", code, errOut)
	}
	t.Setenv("SLUICE_TOKEN", "")
	mustRun(t, srv, "--token", admin, "token", "rm", id[1])
	t.Setenv("SLUICE_TOKEN", text)
	if code, _, errOut := run(t, srv, "stream", "ls"); code == 0 || !strings.Contains(errOut, "revoked") {
		t.Errorf("a revoked token: exit %d %q", code, errOut)
	}
}
