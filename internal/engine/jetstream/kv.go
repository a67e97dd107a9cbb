package jetstream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/engine"
)

// KV opens a bucket named sluice_<bucket>, creating it if needed.
func (e *Engine) KV(ctx context.Context, bucket string) (engine.KV, error) {
	if err := e.link.check(); err != nil {
		return nil, fmt.Errorf("open kv %q: %w", bucket, err)
	}
	var kv jetstream.KeyValue
	err := e.create(ctx, "KV_sluice_"+bucket, func(ctx context.Context) (err error) {
		kv, err = e.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:   "sluice_" + bucket,
			Storage:  jetstream.FileStorage,
			History:  1,
			Replicas: e.replicas,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open kv %q: %w", bucket, err)
	}
	return &kvBucket{kv: kv, guard: e.guard, link: e.link, e: e}, nil
}

type kvBucket struct {
	kv    jetstream.KeyValue
	guard *guard // a write to a store that failed for lack of space is refused at once, not left to time out
	link  *link  // an operation while NATS is out of reach fails at once
	e     *Engine
}

func (b *kvBucket) writable() error {
	if err := b.link.check(); err != nil {
		return err
	}
	if full, _ := b.guard.state(); full != nil {
		return full
	}
	return nil
}

func (b *kvBucket) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	if err := b.link.check(); err != nil {
		return nil, 0, fmt.Errorf("kv get %q: %w", key, err)
	}
	return b.getFresh(ctx, key, func() ([]byte, uint64, error) {
		en, err := b.kv.Get(ctx, key)
		if err != nil {
			return nil, 0, fmt.Errorf("kv get %q: %w", key, b.e.unavailable(ctx, mapErr(err)))
		}
		return en.Value(), en.Revision(), nil
	})
}

func (b *kvBucket) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	if err := b.writable(); err != nil {
		return 0, fmt.Errorf("kv create %q: %w", key, err)
	}
	rev, err := b.kv.Create(ctx, key, value)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("kv create %q: %w", key, engine.ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("kv create %q: %w", key, b.e.unavailable(ctx, mapErr(err)))
	}
	b.wrote(key, rev)
	return rev, nil
}

func (b *kvBucket) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if err := b.writable(); err != nil {
		return 0, fmt.Errorf("kv update %q: %w", key, err)
	}
	n, err := b.kv.Update(ctx, key, value, rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("kv update %q at revision %d: %w", key, rev, engine.ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("kv update %q: %w", key, b.e.unavailable(ctx, mapErr(err)))
	}
	b.wrote(key, n)
	return n, nil
}

func (b *kvBucket) Delete(ctx context.Context, key string) error {
	if err := b.writable(); err != nil {
		return fmt.Errorf("kv delete %q: %w", key, err)
	}
	if err := b.kv.Purge(ctx, key); err != nil {
		return fmt.Errorf("kv delete %q: %w", key, b.e.unavailable(ctx, mapErr(err)))
	}
	b.wrote(key, 0)
	return nil
}

func (b *kvBucket) Keys(ctx context.Context, prefix string) ([]string, error) {
	if err := b.link.check(); err != nil {
		return nil, fmt.Errorf("kv keys: %w", b.e.unavailable(ctx, mapErr(err)))
	}
	all, err := b.kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kv keys: %w", b.e.unavailable(ctx, mapErr(err)))
	}
	var out []string
	for _, k := range all {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (b *kvBucket) Watch(ctx context.Context, prefix string) (<-chan engine.KVChange, error) {
	if err := b.link.check(); err != nil {
		return nil, fmt.Errorf("kv watch: %w", err)
	}
	w, err := b.kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("kv watch: %w", b.e.unavailable(ctx, mapErr(err)))
	}
	out := make(chan engine.KVChange)
	go func() {
		defer close(out)
		defer func() { _ = w.Stop() }()
		send := func(c engine.KVChange) bool {
			select {
			case out <- c:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for {
			var en jetstream.KeyValueEntry
			var ok bool
			select {
			case <-ctx.Done():
				return
			case en, ok = <-w.Updates():
			}
			if !ok {
				return
			}
			if en == nil { // the initial values are all delivered
				if !send(engine.KVChange{CaughtUp: true}) {
					return
				}
				continue
			}
			if !strings.HasPrefix(en.Key(), prefix) {
				continue
			}
			c := engine.KVChange{Key: en.Key(), Value: en.Value(), Revision: en.Revision(),
				Deleted: en.Operation() != jetstream.KeyValuePut}
			if !send(c) {
				return
			}
		}
	}()
	return out, nil
}
