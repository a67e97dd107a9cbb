package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/engine"
)

var _ engine.Consumers = (*Engine)(nil)

// EnsureConsumer opens a durable pull consumer with explicit acks (of one
// message, or of it and every earlier one with AckAll).
func (e *Engine) EnsureConsumer(ctx context.Context, cfg engine.ConsumerConfig) (engine.Consumer, error) {
	s, err := e.stream(ctx, cfg.Stream)
	if err != nil {
		return nil, err
	}
	c, err := s.Consumer(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		ack := jetstream.AckExplicitPolicy
		if cfg.AckAll {
			ack = jetstream.AckAllPolicy
		}
		c, err = s.CreateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       cfg.Name,
			Description:   "sluice " + cfg.Name,
			DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
			OptStartSeq:   max(cfg.StartSeq, 1),
			AckPolicy:     ack,
			AckWait:       cfg.AckWait,
			MaxAckPending: cfg.MaxAckPending,
			MaxDeliver:    -1,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("consumer %s on %s: %w", cfg.Name, cfg.Stream, mapErr(err))
	}
	return &consumer{c: c, link: e.link}, nil
}

// DeleteConsumer removes a consumer; its position is forgotten.
func (e *Engine) DeleteConsumer(ctx context.Context, stream, name string) error {
	s, err := e.stream(ctx, stream)
	if err != nil {
		return err
	}
	if err := s.DeleteConsumer(ctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete consumer %s on %s: %w", name, stream, err)
	}
	return nil
}

// DeleteMsg removes one message.
func (e *Engine) DeleteMsg(ctx context.Context, stream string, seq uint64) error {
	s, err := e.stream(ctx, stream)
	if err != nil {
		return err
	}
	if err := s.DeleteMsg(ctx, seq); err != nil {
		return fmt.Errorf("delete %s@%d: %w", stream, seq, mapErr(err))
	}
	return nil
}

type consumer struct {
	c    jetstream.Consumer
	link *link
}

func (c *consumer) Fetch(ctx context.Context, n int, wait time.Duration) ([]engine.Delivery, error) {
	if err := c.link.check(); err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		wait = max(time.Until(dl), time.Millisecond)
	}
	batch, err := c.c.Fetch(n, jetstream.FetchMaxWait(wait))
	if err != nil {
		return nil, mapErr(err)
	}
	var out []engine.Delivery
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			return out, err
		}
		msg := m
		out = append(out, engine.NewDelivery(
			engine.Stored{Seq: md.Sequence.Stream, Header: flatten(m.Headers()), Data: m.Data(), Arrived: md.Timestamp},
			int(md.NumDelivered), func(ctx context.Context) error { return msg.DoubleAck(ctx) }))
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
		return out, mapErr(err)
	}
	return out, nil
}

func (c *consumer) State(ctx context.Context) (engine.ConsumerState, error) {
	if err := c.link.check(); err != nil {
		return engine.ConsumerState{}, err
	}
	info, err := c.c.Info(ctx)
	if err != nil {
		return engine.ConsumerState{}, mapErr(err)
	}
	// A replicated consumer reports an ack floor of 0 until its first
	// acknowledgement (one on a single server reports the start minus
	// one); nothing before its start is its to acknowledge, so its floor is
	// at least there, and a run taking over never starts from the stream's
	// first event instead.
	floor := info.AckFloor.Stream
	if info.Config.DeliverPolicy == jetstream.DeliverByStartSequencePolicy && info.Config.OptStartSeq > 0 {
		floor = max(floor, info.Config.OptStartSeq-1)
	}
	return engine.ConsumerState{AckFloor: floor, Pending: info.NumPending,
		InFlight: uint64(info.NumAckPending), Delivered: max(info.Delivered.Stream, floor)}, nil
}
