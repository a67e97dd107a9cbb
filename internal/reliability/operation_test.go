//go:build reliability

package reliability

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pipeline"
)

// operate POSTs path, which starts an operation (202 with a Location), and
// follows it until it ends; it must succeed.
func operate(t *testing.T, base, path string) pipeline.Operation {
	t.Helper()
	resp, err := http.Post(base+path, "application/json", bytes.NewReader(nil))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusAccepted || loc == "" {
		t.Fatalf("POST %s: %s (Location %q) %s", path, resp.Status, loc, b)
	}
	var op pipeline.Operation
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		op = pipeline.Operation{}
		mustGet(t, base, loc, &op)
		if !op.Running() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still running: %+v", path, op)
		}
	}
	if op.State != pipeline.OpSucceeded {
		t.Fatalf("%s: %+v", path, op)
	}
	return op
}
