// Package python_test runs the Python SDK's own tests (python3 -m unittest)
// from go test, so CI runs them; without python3 they skip (or fail with
// SLUICE_TEST_STRICT=1).
package python_test

import (
	"testing"

	"github.com/sluice-dev/sluice/internal/testenv"
)

func TestPythonSDK(t *testing.T) {
	testenv.Unittest(t, ".")
}
