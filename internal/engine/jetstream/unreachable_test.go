package jetstream

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/testenv/natstest"
)

// checkUnavailable: every operation of an engine that cannot reach NATS
// fails at once with ErrUnavailable, saying so.
func checkUnavailable(t *testing.T, e *Engine, stream string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var errs []error
	errs = append(errs, e.Ready(ctx), e.EnsureStream(ctx, engine.StreamConfig{Name: stream, DuplicateWindow: time.Minute}))
	_, err := e.State(ctx, stream)
	errs = append(errs, err)
	_, err = e.Publish(ctx, stream, []engine.Msg{{ID: "x", Data: []byte("1")}})
	errs = append(errs, err)
	_, err = e.Get(ctx, stream, 1)
	errs = append(errs, err)
	_, err = e.Range(ctx, stream, 1, 10, 1<<20)
	errs = append(errs, err)
	_, err = e.Follow(ctx, stream, 1)
	errs = append(errs, err)
	_, err = e.KV(ctx, "cat")
	errs = append(errs, err)
	for i, err := range errs {
		if !errors.Is(err, engine.ErrUnavailable) || !strings.Contains(err.Error(), "unreachable") {
			t.Errorf("operation %d while NATS is down: %v, want ErrUnavailable naming NATS unreachable", i, err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("%d operations took %s while NATS is down: they should fail at once", len(errs), d)
	}
}

// untilReady waits until e is ready and says how long that took.
func untilReady(t *testing.T, e *Engine, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := e.Ready(context.Background())
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("not ready %s after NATS came up: %v", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A NATS that is down when sluice starts: Open succeeds, the engine says
// why it is not ready and fails operations at once; once NATS is up,
// everything works, no restart needed.
func TestUnreachableAtStart(t *testing.T) {
	p := natstest.Processes(t, 1)
	if err := p.Kill(0); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e, err := Open(context.Background(), Options{URL: "nats://user:secret@" + strings.TrimPrefix(p.URL(), "nats://")})
	if err != nil {
		t.Fatalf("Open with NATS down: %v", err)
	}
	defer e.Close()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Open took %s with NATS down", d)
	}
	err = e.Ready(context.Background())
	t.Logf("ready: %v", err)
	if err == nil || !strings.Contains(err.Error(), "NATS at "+p.URL()+" unreachable") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Ready = %v, want it to name the URL (without its password) and say unreachable", err)
	}
	checkUnavailable(t, e, "late")

	wctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err = e.WaitReachable(wctx)
	cancel()
	if !errors.Is(err, engine.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReachable with NATS down: %v", err)
	}
	reached := make(chan error, 1)
	go func() { reached <- e.WaitReachable(context.Background()) }()
	if err := p.Start(0); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	if err := <-reached; err != nil {
		t.Fatalf("WaitReachable: %v", err)
	}
	untilReady(t, e, 10*time.Second)
	t.Logf("reached and ready %s after nats-server accepts clients", time.Since(up))
	ctx := context.Background()
	if err := e.EnsureStream(ctx, engine.StreamConfig{Name: "late", DuplicateWindow: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if got, err := engine.Append(ctx, e, "late", []engine.Msg{{ID: "a", Data: []byte("1")}}); err != nil || got[0].Seq != 1 {
		t.Fatalf("append: %+v %v", got, err)
	}
	kv, err := e.KV(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
}

// A NATS that goes away later: operations fail at once, then work again
// once it is back (same store: what was stored is still there).
func TestUnreachableLater(t *testing.T) {
	p := natstest.Processes(t, 1)
	e, err := Open(context.Background(), Options{URL: p.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	if err := e.EnsureStream(ctx, engine.StreamConfig{Name: "gone", DuplicateWindow: time.Minute}); err != nil {
		t.Fatal(err)
	}
	kv, err := e.KV(ctx, "gone")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Append(ctx, e, "gone", []engine.Msg{{ID: "a", Data: []byte("1")}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(0); err != nil {
		t.Fatal(err)
	}
	// Until the connection is marked lost, an operation waits up to
	// reconnectGrace for it to come back; Ready can fail before that
	// (its request has no responder), so wait for the mark itself.
	for deadline := time.Now().Add(5 * time.Second); e.link.check() == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("still connected 5s after NATS was killed")
		}
	}
	checkUnavailable(t, e, "gone")
	if _, _, err := kv.Get(ctx, "k"); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("kv get while NATS is down: %v", err)
	}
	if err := p.Start(0); err != nil {
		t.Fatal(err)
	}
	t.Logf("ready %s after nats-server accepts clients again", untilReady(t, e, 10*time.Second))
	if got, err := engine.Append(ctx, e, "gone", []engine.Msg{{ID: "b", Data: []byte("2")}}); err != nil || got[0].Seq != 2 {
		t.Fatalf("append after NATS came back: %+v %v", got, err)
	}
	if _, err := kv.Create(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
}

// The URL of a log line or an error carries no credentials.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://a:4222":                       "nats://a:4222",
		"nats://u:p@a:4222, tls://tok@b:4222": "nats://a:4222,tls://b:4222",
		"u:p@a:4222":                          "a:4222",
		"nats://u:p@ss@a:4222":                "nats://a:4222",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
