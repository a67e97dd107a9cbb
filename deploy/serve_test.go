package deploy

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/cli"
	"github.com/sluice-dev/sluice/internal/config"
)

// shutdownTimeout is how long `sluice serve` takes at most to stop after
// SIGTERM (internal/cli/serve.go): what Kubernetes and systemd must wait.
const shutdownTimeout = 30 * time.Second

// command is the sluice command the words name (["serve"], ["stream",
// "ls"]), as the binary builds it, and the words left after it.
func command(words []string) (*cobra.Command, []string, error) {
	return cli.Command(io.Discard, io.Discard).Find(words)
}

// serve checks args, what follows `sluice serve` in a manifest: each is a
// flag of serve's (not an inherited one, which means nothing to serve)
// with its value, and serve parses them all. It returns the values by flag
// name.
func serve(t *testing.T, where string, args []string) map[string]string {
	t.Helper()
	cmd, _, err := command([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	for i := 0; i < len(args); i++ {
		name, value, inline := strings.Cut(strings.TrimPrefix(args[i], "--"), "=")
		if !strings.HasPrefix(args[i], "--") {
			t.Errorf("%s: sluice serve takes no argument, got %q", where, args[i])
			continue
		}
		f := cmd.LocalFlags().Lookup(name)
		if f == nil {
			t.Errorf("%s: sluice serve has no flag --%s", where, name)
			continue
		}
		if !inline && f.NoOptDefVal == "" && i+1 < len(args) {
			i++
			value = args[i]
		}
		values[name] = value
	}
	if err := cmd.ParseFlags(args); err != nil {
		t.Errorf("%s: sluice serve %s: %v", where, strings.Join(args, " "), err)
	}
	return values
}

// parseConfig reads an example sluice.yaml as `sluice serve --config`
// does, and fails the test unless it is valid.
func parseConfig(t *testing.T, where, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(text))
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return cfg
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// firstSet is the first of values that is not empty.
func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
