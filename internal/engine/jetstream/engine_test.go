package jetstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/engine/enginetest"
	"github.com/sluice-dev/sluice/internal/testenv/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openEmbedded(t *testing.T, dir string) *Engine {
	t.Helper()
	e, err := Open(context.Background(), Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEmbedded(t *testing.T) {
	e := openEmbedded(t, t.TempDir())
	defer e.Close()
	if e.ClientURL() != "" {
		t.Fatalf("embedded server listens on %s without being asked", e.ClientURL())
	}
	enginetest.Run(t, e)
}

func TestEmbeddedKeepsDataAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	e := openEmbedded(t, dir)
	ctx := context.Background()
	if err := e.EnsureStream(ctx, engine.StreamConfig{Name: "restart.test", DuplicateWindow: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Append(ctx, e, "restart.test", []engine.Msg{{ID: "a", Data: []byte("1")}, {ID: "b", Data: []byte("2")}}); err != nil {
		t.Fatal(err)
	}
	kv, err := e.KV(ctx, "restart")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e = openEmbedded(t, dir)
	defer e.Close()
	st, err := e.State(ctx, "restart.test")
	if err != nil || st.Messages != 2 || st.LastSeq != 2 {
		t.Fatalf("after restart: %+v %v", st, err)
	}
	// De-duplication ids survive the restart too.
	got, err := engine.Append(ctx, e, "restart.test", []engine.Msg{{ID: "b", Data: []byte("2")}})
	if err != nil || !got[0].Duplicate || got[0].Seq != 2 {
		t.Fatalf("duplicate after restart: %+v %v", got, err)
	}
	kv, err = e.KV(ctx, "restart")
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := kv.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("kv after restart: %q %v", v, err)
	}
}

func TestEmbeddedListensOnlyWhenAsked(t *testing.T) {
	addr := freeAddr(t)
	e, err := Open(context.Background(), Options{DataDir: t.TempDir(), Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	c.Close()
}

// TestExternal runs the conformance suite against a separate nats-server
// process, built from the same module version the embedded server uses.
func TestExternal(t *testing.T) {
	p := natstest.Processes(t, 1)
	e, err := Open(context.Background(), Options{URL: p.URL()})
	if err != nil {
		t.Fatalf("connect to external nats-server: %v", err)
	}
	defer e.Close()
	if e.Embedded() {
		t.Fatal("engine is embedded")
	}
	enginetest.Run(t, e)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr())
}

// TestUnansweredIsNotNotFound: while JetStream does not answer (here
// shut down, as when it restarts after a full disk), reads fail with
// ErrUnavailable, never ErrNotFound: a source reads "not found" as "I
// never wrote anything" and would resume from its start.
func TestUnansweredIsNotNotFound(t *testing.T) {
	e := openEmbedded(t, t.TempDir())
	defer e.Close()
	ctx := context.Background()
	if err := e.EnsureStream(ctx, engine.StreamConfig{Name: "quiet", DuplicateWindow: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Append(ctx, e, "quiet", []engine.Msg{{ID: "a", Origin: "src", Data: []byte("1")}}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.ShutdownJetStream(); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err1 := e.LastOf(rctx, "quiet", "src")
	_, err2 := e.Get(rctx, "quiet", 1)
	_, err3 := e.Range(rctx, "quiet", 1, 10, 1<<20)
	for i, err := range []error{err1, err2, err3} {
		if !errors.Is(err, engine.ErrUnavailable) || errors.Is(err, engine.ErrNotFound) {
			t.Errorf("read %d while JetStream is down: %v, want ErrUnavailable", i, err)
		}
	}
}
