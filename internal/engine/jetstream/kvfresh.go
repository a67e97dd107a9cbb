package jetstream

import (
	"context"
	"sync"
	"time"
)

// A replicated bucket answers nats.go's gets by direct get, which any
// replica may answer, and a follower may not have applied a write its
// leader confirmed moments ago: a node that created a key could read
// "no such key" right after (the kill -9 suite saw a node exit so:
// "config: + streams.out: no such definition"). So the engine remembers,
// for readYourWrites, the revision it last wrote of each key, and a get
// that answers an older one (or none) asks again, a few times, for the
// replicas to catch up. It does not ask the leader instead: direct gets
// answer while a stream has no leader (produce reads the catalog so),
// and a leader-only get would wait for one. Another node's fresh writes
// may still be read a moment late; every write of sluice's checks a
// revision, so a stale read costs a retry, never a lost write.
const readYourWrites = 5 * time.Second

// staleRetries and staleWait bound the asking again: at most about 250 ms.
const (
	staleRetries = 10
	staleWait    = 25 * time.Millisecond
)

// maxWritten bounds the revisions remembered; past it, expired ones go.
const maxWritten = 10000

type written struct {
	rev uint64
	at  time.Time
}

// kvWrites: the revisions this engine wrote lately, by bucket and key.
type kvWrites struct {
	mu sync.Mutex
	m  map[string]written
}

func (w *kvWrites) wrote(key string, rev uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if w.m == nil {
		w.m = map[string]written{}
	}
	if len(w.m) >= maxWritten {
		for k, v := range w.m {
			if now.Sub(v.at) >= readYourWrites {
				delete(w.m, k)
			}
		}
	}
	if len(w.m) < maxWritten {
		w.m[key] = written{rev, now}
	}
}

func (w *kvWrites) forget(key string) {
	w.mu.Lock()
	delete(w.m, key)
	w.mu.Unlock()
}

// lastWritten is the revision this engine wrote of key in the last
// readYourWrites; 0 if none.
func (w *kvWrites) lastWritten(key string) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.m[key]
	if !ok || time.Since(v.at) >= readYourWrites {
		return 0
	}
	return v.rev
}

func (b *kvBucket) writesKey(key string) string { return b.kv.Bucket() + "\x00" + key }

// wrote notes a write of key at rev (replicated buckets only); rev 0: a
// deletion, after which nothing is expected.
func (b *kvBucket) wrote(key string, rev uint64) {
	if b.e.replicas <= 1 {
		return
	}
	if rev == 0 {
		b.e.kvWrites.forget(b.writesKey(key))
		return
	}
	b.e.kvWrites.wrote(b.writesKey(key), rev)
}

// getFresh is a get that, for a key this engine wrote lately, asks again
// while the answer is older than that write.
func (b *kvBucket) getFresh(ctx context.Context, key string, get func() ([]byte, uint64, error)) ([]byte, uint64, error) {
	v, rev, err := get()
	if b.e.replicas <= 1 {
		return v, rev, err
	}
	want := b.e.kvWrites.lastWritten(b.writesKey(key))
	for i := 0; want > 0 && rev < want && i < staleRetries && ctx.Err() == nil; i++ {
		select {
		case <-ctx.Done():
		case <-time.After(staleWait):
		}
		v, rev, err = get()
	}
	return v, rev, err
}
