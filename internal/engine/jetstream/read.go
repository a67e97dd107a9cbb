package jetstream

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/engine"
)

// readBuffer bounds the messages a reader holds ahead of its caller.
const readBuffer = 256

// Read opens an ordered consumer: ephemeral, flow-controlled, recreated by
// the client after a gap, and never acknowledged, so readers cost the
// stream nothing once closed.
func (e *Engine) Read(ctx context.Context, name string, from uint64) (engine.Reader, error) {
	s, err := e.stream(ctx, name)
	if err != nil {
		return nil, err
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   max(from, 1),
	})
	if err != nil {
		e.forget(name, err)
		return nil, fmt.Errorf("read %q from %d: %w", name, from, mapErr(err))
	}
	it, err := c.Messages(jetstream.PullMaxMessages(readBuffer))
	if err != nil {
		return nil, fmt.Errorf("read %q from %d: %w", name, from, mapErr(err))
	}
	return &reader{it: it}, nil
}

type reader struct{ it jetstream.MessagesContext }

func (r *reader) Next(ctx context.Context) (engine.Stored, error) {
	m, err := r.it.Next(jetstream.NextContext(ctx))
	if err != nil {
		return engine.Stored{}, mapErr(err)
	}
	md, err := m.Metadata()
	if err != nil {
		return engine.Stored{}, err
	}
	return engine.Stored{Seq: md.Sequence.Stream, Header: flatten(m.Headers()), Data: m.Data(), Arrived: md.Timestamp}, nil
}

func (r *reader) Close() { r.it.Stop() }
