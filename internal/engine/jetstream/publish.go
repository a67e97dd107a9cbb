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
// so the stream stores them in the order given.
func (e *Engine) Publish(ctx context.Context, name string, msgs []engine.Msg) (engine.Pending, error) {
	p := &pending{js: e.js, stream: name, msgs: make([]*nats.Msg, len(msgs)), futs: make([]jetstream.PubAckFuture, len(msgs))}
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
		f, err := e.publishAsync(ctx, name, nm)
		if err != nil {
			// The earlier messages are in flight: keep them, the caller
			// waits for them and retries the rest by id.
			p.failed = i
			p.err = err
			return p, nil
		}
		p.futs[i] = f
	}
	p.failed = len(msgs)
	return p, nil
}

// publishAsync waits while too many acks are outstanding instead of failing.
func (e *Engine) publishAsync(ctx context.Context, name string, m *nats.Msg) (jetstream.PubAckFuture, error) {
	for {
		f, err := e.js.PublishMsgAsync(m, jetstream.WithExpectStream(streamName(name)))
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
	js     jetstream.JetStream
	stream string
	msgs   []*nats.Msg
	futs   []jetstream.PubAckFuture
	failed int   // index of the first message that was not sent
	err    error // why it was not sent
}

// Wait collects every ack. A message whose publish failed (timeout, lost
// connection, leader change) is sent again with the same Nats-Msg-Id, so a
// copy that did land is dropped as a duplicate instead of stored twice.
// Transient failures are retried until ctx ends; nothing is skipped.
func (p *pending) Wait(ctx context.Context) ([]engine.Appended, error) {
	out := make([]engine.Appended, len(p.msgs))
	var failed []int
	for i := range p.msgs {
		if i >= p.failed {
			failed = append(failed, i)
			continue
		}
		select {
		case ack := <-p.futs[i].Ok():
			out[i] = engine.Appended{Seq: ack.Sequence, Duplicate: ack.Duplicate}
		case <-p.futs[i].Err():
			failed = append(failed, i)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for _, i := range failed {
		ack, err := p.retry(ctx, p.msgs[i])
		if err != nil {
			return nil, fmt.Errorf("append to %q, message %d: %w", p.stream, i, err)
		}
		out[i] = engine.Appended{Seq: ack.Sequence, Duplicate: ack.Duplicate}
	}
	return out, nil
}

func (p *pending) retry(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 50 * time.Millisecond
	b.MaxInterval = 2 * time.Second
	return backoff.Retry(ctx, func() (*jetstream.PubAck, error) {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		ack, err := p.js.PublishMsg(actx, m)
		switch {
		case err == nil:
			return ack, nil
		case ctx.Err() != nil:
			return nil, backoff.Permanent(ctx.Err())
		case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrTimeout),
			errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrDisconnected),
			errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, jetstream.ErrAsyncPublishTimeout):
			return nil, err // transient: try again
		}
		return nil, backoff.Permanent(mapErr(err))
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
}
