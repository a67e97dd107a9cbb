// Package processtest gives tests real function processes: the
// aws-lambda-go function of ../testdata/lambdago, built with the go
// toolchain, and the Python ones of ../testdata, run with python3 (tests
// that need them skip when the toolchain or python3 is missing).
package processtest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/internal/testenv"
)

var built struct {
	once sync.Once
	path string
	err  error
}

// Testdata is the folder of the test functions.
func Testdata() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// GoFunction is the path of testdata/lambdago built (an aws-lambda-go
// function; see its doc for what each event can ask of it). The binary is
// kept under the temporary folder by the hash of its sources, so test
// binaries share it and nothing is left per run.
func GoFunction(t testing.TB) string {
	t.Helper()
	built.once.Do(func() { built.path, built.err = buildGo() })
	if errors.Is(built.err, exec.ErrNotFound) {
		testenv.Skip(t, "no go toolchain to build the aws-lambda-go test function: "+built.err.Error())
	}
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func buildGo() (string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, serr := os.Stat(gobin); serr != nil {
			return "", fmt.Errorf("%w: %v", exec.ErrNotFound, err)
		}
	}
	h := sha256.New()
	root := filepath.Join(Testdata(), "..", "..", "..", "..")
	for _, f := range []string{filepath.Join(Testdata(), "lambdago", "main.go"), filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum")} {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	dir := filepath.Join(os.TempDir(), "sluice-test-functions")
	path := filepath.Join(dir, fmt.Sprintf("lambdago-%x", h.Sum(nil)[:8]))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	cmd := exec.Command(gobin, "build", "-o", tmp, "./lambdago")
	cmd.Dir = Testdata()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./testdata/lambdago: %v\n%s", err, out)
	}
	return path, os.Rename(tmp, path) // atomic: test binaries building it at once agree
}

// Python is python3's path, or skips t.
func Python(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		testenv.Skip(t, "python3 is not installed: this test runs a Python function")
	}
	if out, err := exec.Command(p, "-c", "import sys; assert sys.version_info >= (3, 8)").CombinedOutput(); err != nil {
		testenv.Skip(t, fmt.Sprintf("python3 does not run or is older than 3.8: %v %s", err, out))
	}
	return p
}
