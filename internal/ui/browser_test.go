package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sluice-dev/sluice/internal/testenv"
)

// browser is one headless Chromium for a test, with JavaScript errors
// collected so that a page that throws fails the test.
type browser struct {
	t       *testing.T
	ctx     context.Context
	base    string
	jsErrs  chan string
	shotDir string // SLUICE_UI_SCREENSHOTS: where screenshots go; "" takes none
}

// chromium finds Debian's chromium (or another Chrome) or skips.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Skip(t, "no chromium on PATH (apt-get install -y chromium)")
	return ""
}

func newBrowser(t *testing.T, base string, width, height int) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t, base: base, jsErrs: make(chan string, 16), shotDir: os.Getenv("SLUICE_UI_SCREENSHOTS")}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			select {
			case b.jsErrs <- msg:
			default:
			}
		}
	}))
	b.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		select {
		case msg := <-b.jsErrs:
			t.Errorf("JavaScript error in the UI: %s", msg)
		default:
		}
	})
	return b
}

// on is the browser reporting to t (a subtest).
func (b *browser) on(t *testing.T) *browser {
	c := *b
	c.t = t
	return &c
}

// run performs actions with a deadline; failures name what was being done.
func (b *browser) run(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		body, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("main")))
		b.t.Fatalf("%s: %v\npage text:\n%.6000s", what, err, body)
	}
	select {
	case msg := <-b.jsErrs:
		b.t.Fatalf("%s: JavaScript error: %s", what, msg)
	default:
	}
}

func (b *browser) open(path string, readySel string) {
	b.t.Helper()
	b.run("open "+path, 15*time.Second, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(readySel)))
}

// eval runs a JavaScript expression and decodes its value.
func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	b.evaluate(expr, out)
}

// await runs a JavaScript expression whose value is a promise (a fetch)
// and decodes what it resolves to.
func (b *browser) await(expr string, out any) {
	b.t.Helper()
	b.evaluate(expr, out, chromedp.EvalAwaitPromise)
}

func (b *browser) evaluate(expr string, out any, opts ...chromedp.EvaluateOption) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr, opts...))
	if err == nil {
		err = json.Unmarshal(raw, out)
	}
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
}

// waitJS polls a boolean JavaScript expression until it is true.
func (b *browser) waitJS(what, expr string, timeout time.Duration) {
	b.t.Helper()
	b.run(what, timeout, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))(ctx, t)
		return chromedp.Void{}, err
	})
}

// shot saves a full-page screenshot when SLUICE_UI_SCREENSHOTS is set.
func (b *browser) shot(name string) {
	b.t.Helper()
	if b.shotDir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()) // the viewport, as a person sees it
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(b.shotDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shotDir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// text is the visible text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }

func chromedpClick(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)
}

// chromedpSetValue sets an input's value as typing would (an input event follows).
func chromedpSetValue(sel, v string) chromedp.Action[chromedp.Void] {
	return js(fmt.Sprintf(`(() => { const e = document.querySelector(%s); e.value = %s; e.dispatchEvent(new Event("input", {bubbles: true})); return true })()`, jsString(sel), jsString(v)))
}

// js runs a statement for its effect.
func js(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[json.RawMessage](expr)(ctx, t)
		return chromedp.Void{}, err
	}
}
