package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/engine"
)

var _ engine.ExpiringKVs = (*Engine)(nil)

// ExpiringKV opens (creating if needed) a bucket whose keys vanish ttl
// after their last write: JetStream's max age on the bucket's stream, with
// one revision per key. A bucket that exists with another ttl is updated
// to this one.
func (e *Engine) ExpiringKV(ctx context.Context, bucket string, ttl time.Duration) (engine.ExpiringKV, error) {
	if err := e.link.check(); err != nil {
		return nil, fmt.Errorf("open kv %q: %w", bucket, err)
	}
	var kv jetstream.KeyValue
	err := e.create(ctx, "KV_sluice_"+bucket, func(ctx context.Context) (err error) {
		kv, err = e.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:   "sluice_" + bucket,
			Storage:  jetstream.FileStorage,
			History:  1,
			TTL:      ttl,
			Replicas: e.replicas,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open kv %q: %w", bucket, err)
	}
	return &expiringBucket{kvBucket{kv: kv, guard: e.guard, link: e.link, e: e}}, nil
}

type expiringBucket struct{ kvBucket }

// DeleteIf deletes key if its revision is still rev.
func (b *expiringBucket) DeleteIf(ctx context.Context, key string, rev uint64) error {
	if err := b.writable(); err != nil {
		return fmt.Errorf("kv delete %q: %w", key, err)
	}
	err := b.kv.Delete(ctx, key, jetstream.LastRevision(rev))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return fmt.Errorf("kv delete %q at revision %d: %w", key, rev, engine.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("kv delete %q: %w", key, b.e.unavailable(ctx, mapErr(err)))
	}
	b.wrote(key, 0)
	return nil
}
