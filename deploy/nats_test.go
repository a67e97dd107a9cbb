package deploy

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/conf"
	"github.com/nats-io/nats-server/v2/server"
)

// minPayload is the largest message sluice's embedded server takes
// (engine/jetstream/server.go): an external one must take as much, or an
// event of limits.max_event_bytes may not fit once sluice's headers are on.
const minPayload = 8 << 20

// natsConf is a nats-server.conf read by the server's own parser: the
// keys as written, and the options the server would run with.
type natsConf struct {
	keys map[string]any
	opts *server.Options
}

// parseNATS reads a nats-server.conf as nats-server -c would, with env the
// environment its variables ($POD_NAME) come from, and checks what sluice
// needs of every cluster: JetStream on with a store and its limit, a named
// cluster whose routes use its port, messages as large as the embedded
// server's.
func parseNATS(t *testing.T, where, text string, env map[string]string) natsConf {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	keys, err := conf.Parse(text)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	// ProcessConfigFile also refuses unknown fields and bad values, and
	// lets warnings through as nats-server does.
	path := filepath.Join(t.TempDir(), "nats-server.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if _, ok := keys["jetstream"]; !ok || !opts.JetStream {
		t.Errorf("%s: jetstream is not enabled", where)
	}
	if opts.StoreDir == "" {
		t.Errorf("%s: jetstream has no store_dir: the server would store in a temporary folder", where)
	}
	if opts.JetStreamMaxStore <= 0 {
		t.Errorf("%s: jetstream sets no max_file_store: the server would take 75%% of the disk free at its start", where)
	}
	if opts.ServerName == "" {
		t.Errorf("%s: no server_name: clustered JetStream needs a stable name per server", where)
	}
	if _, ok := keys["cluster"]; !ok || opts.Cluster.Port == 0 || opts.Cluster.Name == "" {
		t.Errorf("%s: no cluster with a name and a port", where)
	}
	for _, u := range opts.Routes {
		if _, port, _ := net.SplitHostPort(u.Host); port != fmt.Sprint(opts.Cluster.Port) {
			t.Errorf("%s: route %s: want the cluster port %d", where, u, opts.Cluster.Port)
		}
	}
	if opts.MaxPayload < minPayload {
		t.Errorf("%s: max_payload %d, want at least %d (sluice's embedded server's)", where, opts.MaxPayload, minPayload)
	}
	return natsConf{keys: keys, opts: opts}
}

// routes are the host:port of the conf's routes, in order.
func (c natsConf) routes() []string {
	var out []string
	for _, u := range c.opts.Routes {
		out = append(out, u.Host)
	}
	return out
}

// natsKeys are the keys of confs, dotted (jetstream.max_file_store) and by
// their last part (max_file_store), for the names DEPLOY.md mentions.
func natsKeys(confs ...natsConf) map[string]bool {
	out := map[string]bool{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			out[prefix+k], out[k] = true, true
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
			}
		}
	}
	for _, c := range confs {
		walk("", c.keys)
	}
	return out
}

// testedNATS is the major.minor of nats-server sluice is built and tested
// with ("2.15"), from go.mod.
func testedNATS(t *testing.T) string {
	t.Helper()
	for line := range strings.Lines(read(t, "../go.mod")) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "github.com/nats-io/nats-server/v2 v"); ok {
			parts := strings.SplitN(v, ".", 3)
			return parts[0] + "." + parts[1]
		}
	}
	t.Fatal("go.mod: nats-server is not a dependency")
	return ""
}

func TestSystemdNATSConf(t *testing.T) {
	c := parseNATS(t, "systemd/nats-server.conf", read(t, "systemd/nats-server.conf"), nil)
	if want := []string{"a:6222", "b:6222", "c:6222"}; !slices.Equal(c.routes(), want) {
		t.Errorf("systemd/nats-server.conf: routes %v, want %v", c.routes(), want)
	}
	if c.opts.Port != 4222 || c.opts.HTTPPort != 8222 {
		t.Errorf("systemd/nats-server.conf: ports %d and %d (monitoring), want 4222 and 8222 as DEPLOY.md says", c.opts.Port, c.opts.HTTPPort)
	}
}
