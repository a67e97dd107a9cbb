package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-dev/sluice/internal/engine"
)

// Direct gets are answered by any replica of a stream, and a follower
// serves them from when it is 90% caught up (nats-server's monitorStream):
// one that is catching up, after its server restarted, holds less than
// the leader. Messages it answers are the leader's (its log is a prefix of
// the leader's), but "nothing after these" may be false: the kill -9 suite
// saw a files output write 500 of the 970 events of an object when a scan
// ended at a follower's end (docs/RELIABILITY.md). So on a cluster, an
// answer that says a stream ends is confirmed by the stream's leader,
// which alone answers $JS.API.STREAM.MSG.GET. One request more for a read
// that reaches the end of a replicated stream; nothing more on one server.
// The last message of an origin (where a source or a pipeline's output
// resumes) is asked of the leader alone on a cluster: from an older one, a
// pipeline's stream output, taking back deliveries, would find outputs it
// wrote missing and dead-letter their inputs as refused ("sluice.order"),
// as the kill -9 suite saw once before this.

// leaderTimeout bounds the confirmation when the caller set no deadline:
// a leader answers in milliseconds; while a stream elects one, callers
// are better told (engine.ErrNoLeader) and retry than kept waiting.
const leaderTimeout = 2 * time.Second

// JetStream's error codes of a message get.
const (
	errCodeNoMessage       = 10037 // no message found
	errCodeStreamNotFound  = 10059
	errCodeClusterNotAvail = 10008 // the stream has no leader now
)

// clustered reports whether the engine's NATS is a cluster, whose streams
// may have replicas answering direct gets.
func (e *Engine) clustered() bool { return e.nc.ConnectedClusterName() != "" }

// leaderNext asks the stream's leader for its first message at or after
// seq; ok is false when it holds none.
func (e *Engine) leaderNext(ctx context.Context, stream string, seq uint64) (m engine.Stored, ok bool, err error) {
	seq = max(seq, 1)
	m, ok, err = e.leaderGet(ctx, stream, fmt.Appendf(nil, `{"seq":%d,"next_by_subj":">"}`, seq))
	if err != nil {
		return m, ok, fmt.Errorf("ask the leader of %s from %d: %w", stream, seq, err)
	}
	if ok && m.Seq < seq {
		return engine.Stored{}, false, fmt.Errorf("ask the leader of %s from %d: it answered %d", stream, seq, m.Seq)
	}
	return m, ok, nil
}

// leaderLast asks the stream's leader for the last message of a subject.
func (e *Engine) leaderLast(ctx context.Context, stream, subject string) (engine.Stored, error) {
	m, ok, err := e.leaderGet(ctx, stream, fmt.Appendf(nil, `{"last_by_subj":%q}`, subject))
	if err != nil {
		return engine.Stored{}, fmt.Errorf("ask the leader of %s for the last of %s: %w", stream, subject, err)
	}
	if !ok {
		return engine.Stored{}, fmt.Errorf("%w: no message on %s", engine.ErrNotFound, subject)
	}
	return m, nil
}

// leaderGet makes one message get of the leader; ok is false when it has
// no such message.
func (e *Engine) leaderGet(ctx context.Context, stream string, req []byte) (m engine.Stored, ok bool, err error) {
	if _, set := ctx.Deadline(); !set {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, leaderTimeout)
		defer cancel()
	}
	reply, err := e.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+stream, req)
	if err != nil {
		return engine.Stored{}, false, e.unavailable(ctx, err)
	}
	var r struct {
		Message *struct {
			Seq    uint64    `json:"seq"`
			Header []byte    `json:"hdrs"`
			Data   []byte    `json:"data"`
			Time   time.Time `json:"time"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(reply.Data, &r); err != nil {
		return engine.Stored{}, false, fmt.Errorf("the answer: %w", err)
	}
	switch {
	case r.Error != nil && r.Error.Code == errCodeNoMessage:
		return engine.Stored{}, false, nil
	case r.Error != nil && r.Error.Code == errCodeStreamNotFound:
		return engine.Stored{}, false, fmt.Errorf("stream %s: %w", stream, engine.ErrNotFound)
	case r.Error != nil && r.Error.Code == errCodeClusterNotAvail:
		return engine.Stored{}, false, fmt.Errorf("%w: %s", engine.ErrNoLeader, r.Error.Description)
	case r.Error != nil:
		return engine.Stored{}, false, fmt.Errorf("%s (%d)", r.Error.Description, r.Error.Code)
	case r.Message == nil || r.Message.Seq == 0:
		return engine.Stored{}, false, errors.New("an answer without a message")
	}
	s := engine.Stored{Seq: r.Message.Seq, Data: r.Message.Data, Arrived: r.Message.Time}
	if len(r.Message.Header) > 0 {
		// Headers the client cannot read are left out, as a direct get's are.
		if h, err := nats.DecodeHeadersMsg(r.Message.Header); err == nil {
			s.Header = flatten(h)
		}
	}
	return s, true, nil
}

// confirmEnd makes a batch that says the stream ends after it true on a
// cluster: when the leader holds a message after it, the batch gets that
// one (if it has room) and says more may follow.
func (e *Engine) confirmEnd(ctx context.Context, stream string, from uint64, n, maxBytes int, b engine.Batch) (engine.Batch, error) {
	if b.Pending != 0 || !e.clustered() {
		return b, nil
	}
	next, size := max(from, 1), 0
	if k := len(b.Msgs); k > 0 {
		next = b.Msgs[k-1].Seq + 1
		for _, m := range b.Msgs {
			size += len(m.Data)
		}
	}
	m, ok, err := e.leaderNext(ctx, stream, next)
	if err != nil || !ok {
		return b, err
	}
	if len(b.Msgs) == 0 || len(b.Msgs) < n && size+len(m.Data) <= maxBytes {
		b.Msgs = append(b.Msgs, m)
	}
	b.Pending = 1 // at least: the replica that answered is behind its leader
	return b, nil
}
