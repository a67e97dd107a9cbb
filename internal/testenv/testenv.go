// Package testenv decides what tests do when something they need (a
// PostgreSQL server, Chromium, an S3 server, a toolchain) is missing: skip
// with a clear message, or fail when SLUICE_TEST_STRICT=1 (as in CI, where
// everything must be present and no test may skip).
package testenv

import (
	"os"
	"testing"
)

// Strict reports whether missing dependencies fail tests instead of skipping them.
func Strict() bool { return os.Getenv("SLUICE_TEST_STRICT") == "1" }

// Skip skips t with reason, or fails it in strict mode. Under
// cmd/sluice-test the skip is also recorded, for the summary at the end.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if Strict() {
		t.Fatalf("SLUICE_TEST_STRICT=1 and this test cannot run: %s", reason)
	}
	record(t, reason)
	t.Skip(reason)
}
