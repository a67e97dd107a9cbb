package jetstream

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/engine"
)

// A replicated bucket answers nats.go's gets by direct get, which any
// replica may answer, and a follower may not have applied a write its
// leader confirmed moments ago: a node that created a key could read
// "no such key" right after (the kill -9 suite saw a node exit so:
// "config: + streams.out: no such definition"). So a node reads a bucket
// it wrote within readYourWrites from the stream's leader
// ($JS.API.STREAM.MSG.GET), and by direct get otherwise. Another node's
// fresh writes may still be a moment late; every write of sluice's checks
// a revision, so a stale read costs a retry, never a lost write.
const readYourWrites = 5 * time.Second

// kvWrites: when this engine last wrote each replicated bucket.
type kvWrites struct{ m sync.Map } // bucket -> *atomic.Int64 (unix ns)

func (w *kvWrites) wrote(bucket string) {
	v, _ := w.m.LoadOrStore(bucket, new(atomic.Int64))
	v.(*atomic.Int64).Store(time.Now().UnixNano())
}

func (w *kvWrites) recent(bucket string) bool {
	v, ok := w.m.Load(bucket)
	return ok && time.Since(time.Unix(0, v.(*atomic.Int64).Load())) < readYourWrites
}

// wrote notes a write of the bucket (replicated buckets only).
func (b *kvBucket) wrote() {
	if b.e.replicas > 1 {
		b.e.kvWrites.wrote(b.kv.Bucket())
	}
}

// fromLeader: whether a get should ask the leader.
func (b *kvBucket) fromLeader() bool {
	return b.e.replicas > 1 && b.e.kvWrites.recent(b.kv.Bucket())
}

// leaderGet reads a key's last value from the bucket stream's leader.
func (b *kvBucket) leaderGet(ctx context.Context, key string) ([]byte, uint64, error) {
	bucket := b.kv.Bucket()
	req, _ := json.Marshal(map[string]string{"last_by_subj": "$KV." + bucket + "." + key})
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, directTimeout)
		defer cancel()
	}
	m, err := b.e.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return nil, 0, b.e.unavailable(ctx, mapErr(err))
	}
	var resp struct {
		Message *struct {
			Seq  uint64 `json:"seq"`
			Hdrs []byte `json:"hdrs"`
			Data []byte `json:"data"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return nil, 0, fmt.Errorf("kv get %q from the leader: %w", key, err)
	}
	if resp.Error != nil {
		if resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return nil, 0, fmt.Errorf("kv get %q: %w", key, engine.ErrNotFound)
		}
		return nil, 0, fmt.Errorf("kv get %q from the leader: %w", key, b.e.unavailable(ctx, mapErr(resp.Error)))
	}
	if resp.Message == nil {
		return nil, 0, fmt.Errorf("kv get %q from the leader: an answer without a message", key)
	}
	if h := string(resp.Message.Hdrs); strings.Contains(h, "KV-Operation: DEL") || strings.Contains(h, "KV-Operation: PURGE") {
		return nil, 0, fmt.Errorf("kv get %q: %w", key, engine.ErrNotFound)
	}
	return resp.Message.Data, resp.Message.Seq, nil
}
