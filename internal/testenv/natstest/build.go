package natstest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/internal/testenv"
)

const serverModule = "github.com/nats-io/nats-server/v2"

var built struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of a nats-server built from the module version
// go.mod names, the code the in-process servers run. It is built at most
// once per test binary, into the user's cache directory under a name
// with the module's and Go's versions, so later test binaries reuse it; a
// build is written aside and renamed into place, so test binaries running
// at once never start a half-written file. A replaced module (go.mod's
// replace) is built afresh every time, into a temporary directory that is
// left behind. Without a go command the test is skipped (failed under
// SLUICE_TEST_STRICT=1).
func Binary(t testing.TB) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		testenv.Skip(t, "the go command is not on PATH: nats-server cannot be built")
	}
	built.once.Do(func() { built.path, built.err = build(goTool) })
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func build(goTool string) (string, error) {
	dir, name := "", ""
	if version, ok := moduleVersion(goTool); ok {
		if cache, err := os.UserCacheDir(); err == nil {
			dir = filepath.Join(cache, "sluice", "natstest")
			name = "nats-server-" + version + "-" + runtime.Version() + "-" + runtime.GOOS + "-" + runtime.GOARCH
			if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o100 != 0 {
				return filepath.Join(dir, name), nil
			}
		}
	}
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "natstest-"); err != nil {
			return "", err
		}
		name = "nats-server"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp := filepath.Join(dir, name+".tmp-"+strconv.Itoa(os.Getpid()))
	cmd := exec.Command(goTool, "build", "-o", tmp, serverModule)
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("natstest: go build %s: %w\n%s", serverModule, err, out)
	}
	path := filepath.Join(dir, name)
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	return path, nil
}

// moduleVersion asks the go command which nats-server version go.mod
// names; false when that fails or the module is replaced (by a directory,
// whose code may change under the same version, or by another module).
func moduleVersion(goTool string) (string, bool) {
	out, err := exec.Command(goTool, "list", "-m", "-json", serverModule).Output()
	if err != nil {
		return "", false
	}
	var m struct {
		Version string
		Replace *struct{ Path string }
	}
	if json.Unmarshal(out, &m) != nil || m.Replace != nil || m.Version == "" {
		return "", false
	}
	return m.Version, true
}
