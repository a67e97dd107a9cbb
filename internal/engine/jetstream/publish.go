package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/engine"
)

// Publish sends every message asynchronously, in order, on one connection,
// so the stream stores them in the order given. On the embedded server a
// batch that would take the disk's free space below the reserve is refused
// whole first (engine.ErrNoSpace), and nothing is sent. Wait must be called.
func (e *Engine) Publish(ctx context.Context, name string, msgs []engine.Msg) (engine.Pending, error) {
	if err := e.link.check(); err != nil {
		return nil, fmt.Errorf("append to %q: %w", name, err)
	}
	release, err := e.guard.admit(batchBytes(name, msgs))
	if err != nil {
		return nil, fmt.Errorf("append to %q: %w", name, err)
	}
	p := &pending{e: e, stream: name, msgs: make([]*nats.Msg, len(msgs)), release: release}
	for i, m := range msgs {
		nm := nats.NewMsg(originSubject(name, m.Origin))
		nm.Data = m.Data
		for k, v := range m.Header {
			nm.Header.Set(k, escapeHeader(v))
		}
		if m.ID != "" {
			// Exact, not as the client would trim it (header.go).
			nm.Header.Set(jetstream.MsgIDHeader, escapeHeader(m.ID))
		}
		p.msgs[i] = nm
	}
	// The messages not sent now (ctx ended, the connection is down) are
	// sent again by Wait, after the earlier ones in flight.
	p.futs, _ = e.sendAll(ctx, name, p.msgs)
	return p, nil
}

// batchBytes is about what msgs take in the store (a message record holds
// its subject, headers, data and a 30-byte frame).
func batchBytes(name string, msgs []engine.Msg) int64 {
	var n int64
	for _, m := range msgs {
		n += int64(30 + len(originSubject(name, m.Origin)) + len(m.ID) + len(m.Data))
		for k, v := range m.Header {
			n += int64(len(k) + len(v) + 4)
		}
	}
	return n
}

// sendAll publishes msgs in order; it stops at the first that cannot be
// sent and returns the futures of those that were.
func (e *Engine) sendAll(ctx context.Context, name string, msgs []*nats.Msg) ([]jetstream.PubAckFuture, error) {
	futs := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		f, err := e.publishAsync(ctx, name, m)
		if err != nil {
			return futs, err
		}
		futs = append(futs, f)
	}
	return futs, nil
}

// publishAsync waits while too many acks are outstanding instead of failing.
func (e *Engine) publishAsync(ctx context.Context, name string, m *nats.Msg) (jetstream.PubAckFuture, error) {
	for {
		// No retries by the client: its retry of a message nobody answered
		// would come after later ones; Wait sends it again, in order.
		f, err := e.js.PublishMsgAsync(m, jetstream.WithExpectStream(streamName(name)), jetstream.WithRetryAttempts(0))
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-e.js.PublishAsyncComplete():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

type pending struct {
	e       *Engine
	stream  string
	msgs    []*nats.Msg
	futs    []jetstream.PubAckFuture // of the first messages, those sent by Publish
	release func()                   // gives back what admit took
	watch   *stallWatch              // notices the stream answers nothing; set by Wait
}

// Wait collects every ack. A message whose fate is unknown (no ack in time,
// lost connection, leader change) is sent again with the same Nats-Msg-Id,
// so a copy that did land is answered as a duplicate instead of stored
// twice; that is retried until ctx ends, nothing is skipped, unless the
// stream answers nothing for the engine's patience (see stall.go): then
// Wait fails with engine.ErrNoLeader or engine.ErrUnavailable. A message
// the stream refused (out of space, or another permanent error) is not
// sent again: Wait returns the error, and when some messages were stored
// an *engine.PartialError that says which.
func (p *pending) Wait(ctx context.Context) ([]engine.Appended, error) {
	defer p.release()
	p.watch = p.e.watchStall(ctx)
	defer p.watch.stop()
	out := make([]engine.Appended, len(p.msgs))
	refused := map[int]error{}
	all := make([]int, len(p.msgs))
	for i := range all {
		all[i] = i
	}
	todo, err := p.settle(p.watch.ctx, all[:len(p.futs)], p.futs, out, refused)
	if err != nil {
		if todo, err = p.stalled(ctx, out, refused); err != nil {
			return nil, err
		}
	} else {
		todo = append(todo, all[len(p.futs):]...)
	}
	retried := false
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 50 * time.Millisecond
	b.MaxInterval = 2 * time.Second
	for {
		if len(todo) == 0 && !retried {
			// A message refused for space before one that was stored left a
			// hole: space came back in between, so try the hole once more.
			todo, retried = holes(out, refused), true
		}
		if len(todo) == 0 {
			break
		}
		_, changed := p.e.guard.state()
		select {
		case <-p.watch.ctx.Done():
			if todo, err = p.stalled(ctx, out, refused); err != nil {
				return nil, err
			}
			continue
		case <-time.After(b.NextBackOff()):
		case <-changed:
		}
		msgs := make([]*nats.Msg, len(todo))
		for k, i := range todo {
			msgs[k] = p.msgs[i]
		}
		futs, _ := p.e.sendAll(p.watch.ctx, p.stream, msgs)
		again, err := p.settle(p.watch.ctx, todo[:len(futs)], futs, out, refused)
		if err != nil {
			if todo, err = p.stalled(ctx, out, refused); err != nil {
				return nil, err
			}
			continue
		}
		todo = append(again, todo[len(futs):]...)
	}
	return p.result(out, refused)
}

// stalled is called when the wait's context ended: ctx's own end, or the
// stream answered nothing for a while. It returns the error to give up
// with, or, when the stream turns out to be able to store after all, the
// messages still to send (every one neither stored nor refused).
func (p *pending) stalled(ctx context.Context, out []engine.Appended, refused map[int]error) ([]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if why := p.watch.why(ctx, p.stream); why != nil {
		err := fmt.Errorf("append to %q: %w", p.stream, why)
		first, stored := -1, false
		for i, a := range out {
			if a.Seq == 0 && first < 0 {
				first = i
			}
			stored = stored || a.Seq != 0
		}
		if stored && first >= 0 {
			return nil, &engine.PartialError{Appended: out, First: first, Err: err}
		}
		return nil, err
	}
	var todo []int
	for i, a := range out {
		if _, ok := refused[i]; !ok && a.Seq == 0 {
			todo = append(todo, i)
		}
	}
	return todo, nil
}

// holes lists the messages refused for space before the last one stored,
// and forgets they were refused.
func holes(out []engine.Appended, refused map[int]error) []int {
	last := -1
	for i, a := range out {
		if a.Seq != 0 {
			last = i
		}
	}
	var h []int
	for i := 0; i < last; i++ {
		if err, ok := refused[i]; ok && errors.Is(err, engine.ErrNoSpace) {
			h = append(h, i)
			delete(refused, i)
		}
	}
	return h
}

// result is out, or the error of the first message refused.
func (p *pending) result(out []engine.Appended, refused map[int]error) ([]engine.Appended, error) {
	if len(refused) == 0 {
		return out, nil
	}
	first := len(out)
	for i := range refused {
		first = min(first, i)
	}
	why := refused[first]
	var se *engine.SpaceError
	if errors.As(why, &se) && se.Cause == engine.StoreLimit {
		why = p.e.storeLimitErr(context.Background())
	}
	err := fmt.Errorf("append to %q, message %d: %w", p.stream, first, why)
	for _, a := range out {
		if a.Seq != 0 {
			return nil, &engine.PartialError{Appended: out, First: first, Err: err}
		}
	}
	return nil, err
}

// transient errors leave a message's fate unknown: it is sent again.
func transient(err error) bool {
	var perm *backoff.PermanentError
	if errors.As(err, &perm) {
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == errCodeTooManyRequests || apiErr.ErrorCode == errCodeDupInProcess
	}
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, jetstream.ErrAsyncPublishTimeout) ||
		errors.Is(err, nats.ErrNoResponders)
}

// JetStream's error codes for a full store, for a stream that sheds load
// (a message it did not take: sent again), and for a message whose id is
// the id of one still being replicated (a clustered stream answers it only
// once that one is stored: sent again, it is then a duplicate, or stored
// if the first was not).
const (
	errCodeAccountResources = 10002 // the account's limits are used up
	errCodeInsufficient     = 10023 // the server's store limit is used up
	errCodeStorageResources = 10047 // a stream's reservation does not fit
	errCodeTooManyRequests  = 10167
	errCodeDupInProcess     = 10158 // "duplicate message id is in process"
)

// errCodeReplicasUnsupported is a single server asked for more than one replica.
const errCodeReplicasUnsupported = 10074

// refusal turns a stream's permanent answer into the engine's error.
func (e *Engine) refusal(err error) error {
	var perm *backoff.PermanentError
	if errors.As(err, &perm) {
		err = perm.Err
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case errCodeAccountResources, errCodeInsufficient, errCodeStorageResources:
			return &engine.SpaceError{Cause: engine.StoreLimit} // the numbers are added once, by result
		}
	}
	return mapErr(err)
}
