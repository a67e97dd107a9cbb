package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/function/process/processtest"
)

// TestInvokeHere runs a named process function (the aws-lambda-go test
// function) without a server, and shows an event's whole error.
func TestInvokeHere(t *testing.T) {
	fn := processtest.GoFunction(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sluice.yaml"), []byte("functions:\n  gofn:\n    process: {command: ["+fn+"]}\n"), 0o644)
	events := filepath.Join(dir, "events.ndjson")
	os.WriteFile(events, []byte(`{"n":1}`+"\n"+`{"n":2,"do":"exit"}`+"\n"), 0o644)
	code, out, errOut := run(t, "http://127.0.0.1:1", "invoke", "gofn", events, "--project", dir)
	if code != 1 || !strings.Contains(out, `"by":"go"`) || !strings.Contains(out, `"n":1}`) {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	for _, want := range []string{"event 1: Runtime.ExitError: the process ended while it held the invocation (exit status 3) after 2 attempts",
		"  exit: exit status 3", "  stderr (its end):\n    event 2: exiting with 3", "1 of 2 event(s) failed"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if code, _, errOut := run(t, "http://127.0.0.1:1", "invoke", "gofn", events, "--project", dir, "--config", `{"a":1}`); code != 1 ||
		!strings.Contains(errOut, "a named function's config is the operator's") {
		t.Fatalf("a config for a named function: %d %s", code, errOut)
	}
}
