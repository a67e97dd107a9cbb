// Package wikiimagespython_test runs the Python wiki_image_list example's
// tests from go test: its unit tests, and the check that its copy of the SDK
// is the SDK.
package wikiimagespython_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/sluice-dev/sluice/internal/testenv"
)

func TestUnittest(t *testing.T) {
	testenv.Unittest(t, "functions")
}

// The example carries its own copy of sluice_function.py, as `sluice
// function init` writes one; it must be the SDK's.
func TestSDKCopy(t *testing.T) {
	sdk, err := os.ReadFile("../../sdk/python/sluice_function.py")
	if err != nil {
		t.Fatal(err)
	}
	copied, err := os.ReadFile("functions/sluice_function.py")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sdk, copied) {
		t.Fatal("functions/sluice_function.py differs from sdk/python/sluice_function.py: copy it again")
	}
}
