package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/function/process/processtest"
	"github.com/sluice-dev/sluice/internal/node"
)

// TestFunctionsPage shows named functions (a process function of two
// instances, a built-in kind with a preset config) with their settings,
// state and instances, and tries one: an event's error shows whole, with
// its type and the process's stderr.
func TestFunctionsPage(t *testing.T) {
	fn := processtest.GoFunction(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
functions:
  gofn:
    process: {command: [%s], instances: 2, timeout: 10s}
    config: {greeting: hello}
    doc: the aws-lambda-go test function
  titles:
    kind: jq
    config: {program: '{title}'}
`, fn)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		http.DefaultClient.CloseIdleConnections()
	})
	b := newBrowser(t, "http://"+n.Addr(), 1280, 900)
	b.open("/ui/functions", `#fn-gofn table.instances`)
	b.waitJS("two ready instances", `document.querySelectorAll("#fn-gofn table.instances tbody tr").length === 2 &&
		[...document.querySelectorAll("#fn-gofn table.instances .badge")].every(e => e.textContent === "ready")`, 10*time.Second)
	if got := b.text(`#fn-gofn`); !strings.Contains(got, "process") || !strings.Contains(got, "the aws-lambda-go test function") || !strings.Contains(got, "instances") {
		t.Fatalf("the card: %s", got)
	}
	if got := b.text(`#fn-titles h2`); !strings.Contains(got, "jq") {
		t.Fatalf("a named built-in: %s", got)
	}
	b.shot("functions-named")
	b.run("try gofn", 10*time.Second, chromedpClick(`#fn-gofn details.try > summary`),
		js(`document.querySelector("#fn-gofn form textarea").value = '[{"n":1},{"n":2,"do":"fail"}]'`),
		chromedpClick(`#fn-gofn form button[type=submit]`))
	b.waitJS("the results", `document.querySelectorAll("#fn-gofn .invoke-result > .card").length === 2`, 10*time.Second)
	var got string
	b.eval(`document.querySelector("#fn-gofn .invoke-result").innerText`, &got)
	if !strings.Contains(got, `"greeting"`) || !strings.Contains(got, "BadEvent: event 2 is bad") ||
		!strings.Contains(got, "stderr (its end)") || !strings.Contains(got, "event 2 is bad") {
		t.Fatalf("the results: %s", got)
	}
	b.shot("functions-error")
}
