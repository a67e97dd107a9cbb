package testenv

import (
	"os/exec"
	"testing"
)

// Python3 returns the path of python3, or skips t (fails it in strict
// mode) when there is none.
func Python3(t testing.TB) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		Skip(t, "python3 is not installed: this test runs Python code")
	}
	return py
}

// Unittest runs `python3 -m unittest discover` in dir and fails t with its
// output if a test fails.
func Unittest(t testing.TB, dir string) {
	t.Helper()
	cmd := exec.Command(Python3(t), "-m", "unittest", "discover", "-v")
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m unittest discover in %s: %v\n%s", dir, err, out)
	}
	t.Logf("%s", out)
}
