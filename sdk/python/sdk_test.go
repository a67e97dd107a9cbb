// Package python_test runs the Python SDK's own tests (python3 -m unittest)
// from go test, so CI runs them, and its test handlers as named process
// functions under `sluice test`; without python3 they skip (or fail with
// SLUICE_TEST_STRICT=1).
package python_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/cli"
	"github.com/sluice-dev/sluice/internal/testenv"
)

func TestPythonSDK(t *testing.T) {
	testenv.Unittest(t, ".")
}

// TestThroughSluice: testdata/project runs the test handlers as the node
// runs them (a process over the Lambda Runtime API): outputs, filtering,
// per-event errors, batch handlers, a crash and a failing batch bisected
// to their event.
func TestThroughSluice(t *testing.T) {
	testenv.Python3(t)
	var out, errOut bytes.Buffer
	code := cli.Execute([]string{"test", "testdata/project"}, &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), "8 passed, 0 failed") {
		t.Fatalf("sluice test: exit %d\n%s%s", code, out.String(), errOut.String())
	}
}
