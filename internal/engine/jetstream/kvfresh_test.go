package jetstream

import (
	"context"
	"testing"

	"github.com/sluice-dev/sluice/internal/engine"
)

// A get of a key this engine wrote lately asks again while the answer is
// older than the write (a follower that has not applied it yet), a
// bounded number of times; other keys are asked once.
func TestGetAsksAgainForItsOwnWrite(t *testing.T) {
	e := openEmbedded(t, t.TempDir())
	defer e.Close()
	ctx := context.Background()
	kv, err := e.KV(ctx, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	b := kv.(*kvBucket)
	e.replicas = 3 // as on a cluster: one server keeps no stale replica to test with
	rev, err := b.Create(ctx, "mine", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	staleTwice := func() ([]byte, uint64, error) {
		calls++
		if calls <= 2 {
			return nil, 0, engine.ErrNotFound
		}
		return []byte("v"), rev, nil
	}
	if v, r, err := b.getFresh(ctx, "mine", staleTwice); err != nil || r != rev || string(v) != "v" || calls != 3 {
		t.Fatalf("own write: %q %d %v after %d gets", v, r, err, calls)
	}
	calls = 0
	if _, _, err := b.getFresh(ctx, "other", staleTwice); err == nil || calls != 1 {
		t.Fatalf("a key not written here: %v after %d gets", err, calls)
	}
	calls = 0
	never := func() ([]byte, uint64, error) { calls++; return nil, 0, engine.ErrNotFound }
	if _, _, err := b.getFresh(ctx, "mine", never); err == nil || calls != staleRetries+1 {
		t.Fatalf("a replica that never catches up: %v after %d gets", err, calls)
	}
	if err := b.Delete(ctx, "mine"); err != nil {
		t.Fatal(err)
	}
	calls = 0
	if _, _, err := b.getFresh(ctx, "mine", never); err == nil || calls != 1 {
		t.Fatalf("after its deletion: %v after %d gets", err, calls)
	}
}
