package enginetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
)

// kv: create, update with revisions, get, keys by prefix, delete.
func kv(t *testing.T, e engine.Engine) {
	b, err := e.KV(ctx(t), "enginetest")
	if err != nil {
		t.Fatal(err)
	}
	p := name("k") + "."
	rev, err := b.Create(ctx(t), p+"a", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Create(ctx(t), p+"a", []byte("2")); !errors.Is(err, engine.ErrExists) {
		t.Fatalf("create twice: %v", err)
	}
	rev2, err := b.Update(ctx(t), p+"a", []byte("2"), rev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Update(ctx(t), p+"a", []byte("3"), rev); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	v, r, err := b.Get(ctx(t), p+"a")
	if err != nil || string(v) != "2" || r != rev2 {
		t.Fatalf("get = %q %d %v", v, r, err)
	}
	if _, err := b.Create(ctx(t), p+"b", nil); err != nil {
		t.Fatal(err)
	}
	var keys []string
	eventually(func() bool {
		keys, err = b.Keys(ctx(t), p)
		return err == nil && len(keys) == 2
	})
	if err != nil || len(keys) != 2 || keys[0] != p+"a" || keys[1] != p+"b" {
		t.Fatalf("keys = %v %v", keys, err)
	}
	if err := b.Delete(ctx(t), p+"a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Get(ctx(t), p+"a"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if _, err := b.Create(ctx(t), p+"a", []byte("again")); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
	eventually(func() bool { keys, _ = b.Keys(ctx(t), p); return len(keys) == 2 })
	if len(keys) != 2 {
		t.Fatalf("keys after delete and create: %v", keys)
	}
	kvWatch(t, b, p)
}

// kvWatch: the current values, the caught-up mark, then changes in order.
func kvWatch(t *testing.T, b engine.KV, p string) {
	wctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	ch, err := b.Watch(wctx, p)
	if err != nil {
		t.Fatal(err)
	}
	next := func() engine.KVChange {
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatal("watch closed early")
			}
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no change from the watch in 10s")
		}
		return engine.KVChange{}
	}
	got := map[string]string{}
	for c := next(); !c.CaughtUp; c = next() {
		if !strings.HasPrefix(c.Key, p) {
			t.Fatalf("watch of %q sent %q", p, c.Key)
		}
		got[c.Key] = string(c.Value)
	}
	if len(got) != 2 || got[p+"a"] != "again" {
		t.Fatalf("initial values = %v", got)
	}
	if _, err := b.Create(ctx(t), "other"+p+"x", []byte("1")); err != nil { // outside the prefix: not sent
		t.Fatal(err)
	}
	if _, err := b.Create(ctx(t), p+"c", []byte("3")); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Key != p+"c" || string(c.Value) != "3" || c.Deleted || c.Revision == 0 {
		t.Fatalf("change = %+v", c)
	}
	if err := b.Delete(ctx(t), p+"c"); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Key != p+"c" || !c.Deleted {
		t.Fatalf("deletion = %+v", c)
	}
	cancel()
	for range ch { // closed once ctx ends
	}
}
