// Package python_test runs the Python SDK's own tests (python3 -m unittest)
// from go test, so CI runs them; without python3 they skip (or fail with
// SLUICE_TEST_STRICT=1).
package python_test

import (
	"os/exec"
	"testing"

	"github.com/sluice-dev/sluice/internal/testenv"
)

func TestPythonSDK(t *testing.T) {
	RunUnittest(t, ".")
}

// RunUnittest runs python3 -m unittest discover in dir.
func RunUnittest(t *testing.T, dir string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		testenv.Skip(t, "python3 is not installed: the Python SDK's tests need it")
	}
	cmd := exec.Command(py, "-m", "unittest", "discover", "-v")
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m unittest discover in %s: %v\n%s", dir, err, out)
	}
	t.Logf("%s", out)
}
