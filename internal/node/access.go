package node

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/token"
)

// AdminTokenEnv names the environment variable whose value becomes the
// first admin token of a catalog that has none (docs/ACCESS.md).
const AdminTokenEnv = "SLUICE_ADMIN_TOKEN"

// openAccess opens the token store and the audit stream; with access
// control on, a catalog without tokens gets its first admin token: the
// value of SLUICE_ADMIN_TOKEN, or one made here and logged this once.
func openAccess(ctx context.Context, n *Node, cfg *config.Config) (*token.Store, error) {
	if err := audit.Ensure(ctx, n.Streams); err != nil {
		return nil, err
	}
	store, err := token.Open(ctx, n.Engine)
	if err != nil {
		return nil, err
	}
	if !cfg.Auth.Enabled {
		if !loopbackOnly(cfg.Addr) {
			n.log.Warn("ACCESS CONTROL IS OFF on an address beyond loopback: anyone who reaches "+cfg.Addr+
				" may read, write, change and delete everything; set auth.enabled: true (docs/ACCESS.md)", "addr", cfg.Addr)
		}
		return store, nil
	}
	given := os.Getenv(AdminTokenEnv)
	made, text, err := store.Bootstrap(ctx, given)
	if err != nil {
		return nil, fmt.Errorf("auth: the first admin token: %w", err)
	}
	switch {
	case !made && given != "":
		n.log.Warn("auth: " + AdminTokenEnv + " is set but was not taken: the catalog has tokens already (it becomes the first admin token only of a catalog without any)")
	case made && given != "":
		n.log.Info("auth: the catalog had no token; "+AdminTokenEnv+" is its first admin token", "id", token.BootstrapID)
	case made:
		n.log.Warn("auth: the catalog had no token; this is its first admin token, shown this once: keep it, "+
			"make others with `sluice token create`, then revoke it if you like", "token", text, "id", token.BootstrapID)
	}
	return store, nil
}

// checkNATSPort refuses access control over an open NATS port: a client
// of the port could write any stream past the schema check and read all.
func checkNATSPort(cfg *config.Config) error {
	if cfg.Auth.Enabled && cfg.NATS.Listen != "" && cfg.NATS.URL == "" && !cfg.NATS.HasCredentials() {
		return fmt.Errorf("auth.enabled: the NATS port (nats.listen / --nats-listen %s) would take any client, which can write past the schema check; "+
			"set nats.user and nats.password (or nats.nkey_seed_file): the port then requires them and sluice uses them (docs/ACCESS.md)", cfg.NATS.Listen)
	}
	return nil
}

// loopbackOnly reports whether an HTTP listen address takes only local
// connections (an IP of loopback or localhost; "" and ":8080" listen on
// every interface).
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
