package jetstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/engine"
)

// Range is one batch direct get: the server holds nothing for it, before
// or after (the old per-read ordered consumers lingered for their
// inactivity threshold, and a thousand reads exhausted the stream's
// consumer limit).
func (e *Engine) Range(ctx context.Context, name string, from uint64, n, maxBytes int) (engine.Batch, error) {
	if err := e.link.check(); err != nil {
		return engine.Batch{}, fmt.Errorf("read %s from %d: %w", name, from, err)
	}
	b, err := e.direct.batch(ctx, streamName(name), from, n, maxBytes)
	if err == nil {
		b, err = e.confirmEnd(ctx, streamName(name), from, n, maxBytes, b)
	}
	if err = e.unanswered(ctx, name, err); err != nil {
		return engine.Batch{}, fmt.Errorf("read %s from %d: %w", name, from, err)
	}
	return b, nil
}

// pullExpiry is how long a follower's pull request lasts (see consume).
const pullExpiry = 5 * time.Second

// followInactive is how long the server keeps a follower's consumer after
// its client went silent (a node that died without deleting it); a live
// follower always has a pull request waiting, so it never counts as silent.
const followInactive = 30 * time.Second

// Follow opens an ordered consumer: ephemeral, flow-controlled, recreated
// by the client after a gap, never acknowledged, and deleted on Close.
func (e *Engine) Follow(ctx context.Context, name string, from uint64) (engine.Reader, error) {
	return e.consume(ctx, name, from, 0)
}

// Scan is an ordered consumer over a range. Each delivery says how many
// messages the stream holds after it, so the scan knows when it is done
// without waiting (on a cluster, a consumer's replica may be behind its
// leader: one that says none is left before the range's end hands the
// rest to direct gets, whose end the leader confirms).
func (e *Engine) Scan(ctx context.Context, name string, from, to uint64) (engine.Reader, error) {
	if to <= from {
		return &follower{done: true}, nil
	}
	return e.consume(ctx, name, from, to)
}

func (e *Engine) consume(ctx context.Context, name string, from, to uint64) (*follower, error) {
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
		return nil, fmt.Errorf("read %q from %d: %w", name, from, mapErr(err))
	}
	// Bound what waits in the client by count and by bytes. Pull
	// requests expire after pullExpiry, not the default 30 s: on a cluster
	// the consumer may not be listening yet when the first one comes (it is
	// placed on any replica), or its server may go; the client notices the
	// missing heartbeats and pulls again (or recreates the consumer) after
	// about that long, where the default stalled a scan for 30 s.
	it, err := c.Messages(jetstream.PullMaxMessagesWithBytesLimit(readBatch, e.readBytes()),
		jetstream.PullExpiry(pullExpiry))
	if err != nil {
		return nil, fmt.Errorf("read %q from %d: %w", name, from, mapErr(err))
	}
	f := &follower{e: e, name: name, stream: streamName(name), c: c, it: it, next: max(from, 1), to: to}
	if info := c.CachedInfo(); to != 0 && info != nil && info.NumPending == 0 {
		// Nothing from there on: say so now rather than after scanIdle
		// (the kill -9 suite saw a consumer on a replica catching up say
		// so of 1,000 events, and their object written empty).
		f.nonePending()
	}
	return f, nil
}

type follower struct {
	e      *Engine
	name   string
	stream string
	c      jetstream.Consumer
	it     jetstream.MessagesContext
	next   uint64 // the sequence expected next
	to     uint64 // a scan's end (exclusive); 0: follow
	done   bool   // a scan that read its last message
	// direct: a scan whose consumer went silent while the stream held
	// more of its range reads the rest by batch direct gets, buffered.
	direct bool
	buf    []engine.Stored
	stop   sync.Once // of the consumer: by the fallback, or by Close from any goroutine
}

// readBatch bounds the messages a follower holds at once: waiting in the
// client for an ordered consumer, or from one direct get of a scan that
// left its consumer; readBytes bounds their bytes.
const readBatch = 256

// readBytes is at least two of the largest messages the server takes, so
// one always fits.
func (e *Engine) readBytes() int { return int(max(16<<20, 2*e.nc.MaxPayload())) }

// scanIdle is how long a scan waits for a message before it checks that
// one is still there (the rest of the range may have been deleted).
const scanIdle = 2 * time.Second

func (f *follower) Next(ctx context.Context) (engine.Stored, error) {
	for {
		if f.done {
			return engine.Stored{}, io.EOF
		}
		if f.direct {
			return f.nextDirect(ctx)
		}
		wait := ctx
		cancel := context.CancelFunc(func() {})
		if f.to != 0 {
			wait, cancel = context.WithTimeout(ctx, scanIdle)
		}
		m, err := f.it.Next(jetstream.NextContext(wait))
		cancel()
		if err != nil && f.to != 0 && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			b, err := f.e.Range(ctx, f.name, f.next, 1, 1)
			if err != nil {
				return engine.Stored{}, err
			}
			if len(b.Msgs) == 0 || b.Msgs[0].Seq >= f.to {
				f.done = true
				continue
			}
			// The stream holds more of the range, yet the consumer gave
			// nothing for scanIdle. After a server of a cluster was killed,
			// an ordered consumer's pull can be lost for good: nats.go
			// notices missing heartbeats only within one long Next call, and
			// a fresh consumer sometimes gets nothing at all (both seen in
			// the kill -9 suite, docs/RELIABILITY.md). The rest of the scan
			// needs no consumer: it is read by direct gets.
			f.e.log.Info("a scan's consumer delivered nothing while the stream holds more; the scan reads on by direct gets", "stream", f.stream, "from", f.next, "to", f.to, "idle", scanIdle)
			f.stopConsumer()
			f.direct = true
			continue
		}
		if err != nil {
			return engine.Stored{}, mapErr(err)
		}
		md, err := m.Metadata()
		if err != nil {
			return engine.Stored{}, err
		}
		seq := md.Sequence.Stream
		if f.to != 0 {
			if seq >= f.to {
				f.done = true
				return engine.Stored{}, io.EOF
			}
			f.done = seq+1 >= f.to
			if md.NumPending == 0 && !f.done {
				f.nonePending()
			}
		}
		f.next = seq + 1
		return engine.Stored{Seq: seq, Header: flatten(m.Headers()), Data: m.Data(), Arrived: md.Timestamp}, nil
	}
}

// nonePending is a scan's consumer saying nothing is left before the
// range's end. On one server that is the end; on a cluster the consumer
// may be on a replica behind its leader (leader.go), so the rest, if any,
// is read by direct gets, whose "no more" the leader confirms.
func (f *follower) nonePending() {
	if !f.e.clustered() {
		f.done = true
		return
	}
	f.stopConsumer()
	f.direct = true
}

// nextDirect reads a scan on by batch direct gets, from f.next to f.to.
func (f *follower) nextDirect(ctx context.Context) (engine.Stored, error) {
	if len(f.buf) == 0 {
		b, err := f.e.Range(ctx, f.name, f.next, int(min(f.to-f.next, readBatch)), f.e.readBytes())
		if err != nil {
			return engine.Stored{}, err
		}
		f.buf = b.Msgs
	}
	if len(f.buf) == 0 || f.buf[0].Seq >= f.to {
		f.done, f.buf = true, nil
		return engine.Stored{}, io.EOF
	}
	m := f.buf[0]
	f.buf = f.buf[1:]
	f.next = m.Seq + 1
	f.done = f.next >= f.to
	return m, nil
}

// Close stops the consumer and deletes it on the server at once, rather
// than leaving it to the inactivity threshold.
func (f *follower) Close() { f.stopConsumer() }

// stopConsumer stops and deletes the consumer, once. Close may call it
// while Next waits in another goroutine (that is how a tail ends its
// wait): it reads f.it, never writes it.
func (f *follower) stopConsumer() {
	if f.it == nil {
		return
	}
	f.stop.Do(f.deleteConsumer)
}

func (f *follower) deleteConsumer() {
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
