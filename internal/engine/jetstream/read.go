package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/engine"
)

// Range is one batch direct get: the server holds nothing for it, before
// or after (the old per-read ordered consumers lingered for their
// inactivity threshold, and a thousand reads exhausted the stream's
// consumer limit).
func (e *Engine) Range(ctx context.Context, name string, from uint64, n, maxBytes int) (engine.Batch, error) {
	b, err := e.direct.batch(ctx, streamName(name), from, n, maxBytes)
	if err != nil {
		return engine.Batch{}, fmt.Errorf("read %s from %d: %w", name, from, err)
	}
	return b, nil
}

// followInactive is how long the server keeps a follower's consumer after
// its client went silent (a node that died without deleting it); a live
// follower always has a pull request waiting, so it never counts as silent.
const followInactive = 30 * time.Second

// Follow opens an ordered consumer: ephemeral, flow-controlled, recreated
// by the client after a gap, never acknowledged, and deleted on Close.
func (e *Engine) Follow(ctx context.Context, name string, from uint64) (engine.Reader, error) {
	s, err := e.stream(ctx, name)
	if err != nil {
		return nil, err
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       max(from, 1),
		InactiveThreshold: followInactive,
	})
	if err != nil {
		e.forget(name, err)
		return nil, fmt.Errorf("follow %q from %d: %w", name, from, mapErr(err))
	}
	// Bound what waits in the client by count and by bytes (at least two
	// of the largest messages the server takes, so one always fits).
	it, err := c.Messages(jetstream.PullMaxMessagesWithBytesLimit(256, int(max(16<<20, 2*e.nc.MaxPayload()))))
	if err != nil {
		return nil, fmt.Errorf("follow %q from %d: %w", name, from, mapErr(err))
	}
	return &follower{e: e, stream: streamName(name), c: c, it: it}, nil
}

type follower struct {
	e      *Engine
	stream string
	c      jetstream.Consumer
	it     jetstream.MessagesContext
}

func (f *follower) Next(ctx context.Context) (engine.Stored, error) {
	m, err := f.it.Next(jetstream.NextContext(ctx))
	if err != nil {
		return engine.Stored{}, mapErr(err)
	}
	md, err := m.Metadata()
	if err != nil {
		return engine.Stored{}, err
	}
	return engine.Stored{Seq: md.Sequence.Stream, Header: flatten(m.Headers()), Data: m.Data(), Arrived: md.Timestamp}, nil
}

// Close stops the consumer and deletes it on the server at once, rather
// than leaving it to the inactivity threshold.
func (f *follower) Close() {
	f.it.Stop()
	info := f.c.CachedInfo()
	if info == nil || f.e.nc.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.e.js.DeleteConsumer(ctx, f.stream, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) &&
		!errors.Is(err, jetstream.ErrStreamNotFound) {
		f.e.log.Debug("delete follower", "stream", f.stream, "consumer", info.Name, "err", err)
	}
}

// ConsumerCount counts the consumers on a stream now, durable or not.
func (e *Engine) ConsumerCount(ctx context.Context, name string) (int, error) {
	s, err := e.stream(ctx, name)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %q: %w", name, mapErr(err))
	}
	return info.State.Consumers, nil
}
