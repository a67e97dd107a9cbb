package cli

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/testenv"
)

// The CLI reaches a node serving https with a self-signed certificate
// when given it as --ca (or SLUICE_CA), and refuses it otherwise.
func TestServerOverHTTPS(t *testing.T) {
	dir := t.TempDir()
	cert, key := testenv.Cert(t, dir, "node")
	cfg := config.Default()
	cfg.HTTP.TLS = config.TLS{Cert: cert, Key: key}
	server := startConfigured(t, cfg).URL()
	if !strings.HasPrefix(server, "https://") {
		t.Fatalf("URL %s", server)
	}
	mustRun(t, server, "--ca", cert, "stream", "create", "s", "--schema", schemaFile)
	if out := mustRun(t, server, "--ca", cert, "stream", "ls"); !slices.Contains(strings.Fields(out), "s") {
		t.Fatalf("stream ls: %q", out)
	}
	if code, _, errOut := run(t, server, "stream", "ls"); code == 0 || !strings.Contains(errOut, "did not verify: if its CA is your own, pass it with --ca FILE") ||
		strings.Contains(errOut, "sluice serve") {
		t.Fatalf("without --ca: exit %d, %q", code, errOut)
	}
	missing := filepath.Join(dir, "missing.pem")
	if code, _, errOut := run(t, server, "--ca", missing, "stream", "ls"); code == 0 || !strings.Contains(errOut, "--ca "+missing) {
		t.Fatalf("a missing --ca: exit %d, %q", code, errOut)
	}
	t.Setenv("SLUICE_CA", cert)
	mustRun(t, server, "stream", "info", "s")
}
