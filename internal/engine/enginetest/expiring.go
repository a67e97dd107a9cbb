package enginetest

import (
	"errors"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
)

// expiring: keys vanish ttl after their last write; an update restarts the
// clock; a conditional delete takes only the revision it names.
func expiring(t *testing.T, e engine.ExpiringKVs) {
	const ttl = time.Second
	b, err := e.ExpiringKV(ctx(t), "enginetest_expiring", ttl)
	if err != nil {
		t.Fatal(err)
	}
	p := name("x") + "."
	rev, err := b.Create(ctx(t), p+"a", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Create(ctx(t), p+"b", []byte("1")); err != nil {
		t.Fatal(err)
	}
	// a is written again within each ttl; b is not.
	for range 3 {
		time.Sleep(ttl / 2)
		if rev, err = b.Update(ctx(t), p+"a", []byte("2"), rev); err != nil {
			t.Fatalf("renew: %v", err)
		}
	}
	if _, _, err := b.Get(ctx(t), p+"b"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("a key not written for 1.5 ttl: %v", err)
	}
	if _, _, err := b.Get(ctx(t), p+"a"); err != nil {
		t.Fatalf("a key written every half ttl: %v", err)
	}
	if _, err := b.Create(ctx(t), p+"b", []byte("again")); err != nil {
		t.Fatalf("create after expiry: %v", err)
	}
	if err := b.DeleteIf(ctx(t), p+"a", rev-1); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("delete at a stale revision: %v", err)
	}
	if err := b.DeleteIf(ctx(t), p+"a", rev); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Get(ctx(t), p+"a"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if _, err := b.Create(ctx(t), p+"a", []byte("3")); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
}
