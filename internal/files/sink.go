package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v5"
	"gocloud.dev/blob"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/stream"
)

const (
	fetchMax  = 500
	fetchWait = 500 * time.Millisecond
	// ackSlack is how much longer than MaxAge a delivery may wait for its
	// object to be committed before the engine delivers it again (the sink
	// ignores such repeats; they only cost a fetch).
	ackSlack = 5 * time.Minute
	// closeTimeout bounds deleting a removed sink's consumer.
	closeTimeout = 10 * time.Second
)

// Options wire a sink to its pipeline.
type Options struct {
	// Pipeline whose outputs are written: only events the pipeline wrote
	// (origin <pipeline> or <pipeline>-redrive) go to objects. Empty: every event.
	Pipeline string
	// Stream is the pipeline's output stream, which the sink reads.
	Stream string
	// Dir is the data directory, under which a file:relative/dir URL is.
	Dir string
	Log *slog.Logger
}

// Sink writes a stream's events to objects.
type Sink struct {
	cfg    Config
	opts   Options
	svc    *stream.Service
	cons   engine.Consumers
	bucket *blob.Bucket
	part   *Partition
	log    *slog.Logger
	name   string // the durable consumer
	st     status
	cols   *columns // for parquet, with the schema version it was made from
	colsV  int
	// forget: the sink was removed; Close deletes its consumer too.
	forget bool
}

// New checks the config and opens the storage (without a request to it:
// an unreachable server is retried when the sink runs).
func New(ctx context.Context, svc *stream.Service, cfg Config, o Options) (*Sink, error) {
	cfg = cfg.withDefaults()
	if !ValidFormat(cfg.Format) {
		return nil, fmt.Errorf("format %q: want ndjson, ndjson.gz or parquet", cfg.Format)
	}
	if cfg.MaxEvents > MaxMaxEvents {
		return nil, fmt.Errorf("roll.max_events: at most %d", MaxMaxEvents)
	}
	part, err := ParsePartition(cfg.Partition)
	if err != nil {
		return nil, fmt.Errorf("partition: %w", err)
	}
	cons, ok := svc.Engine().(engine.Consumers)
	if !ok {
		return nil, errors.New("files outputs need an engine with durable consumers")
	}
	where, err := resolve(cfg.URL, o.Dir)
	if err != nil {
		return nil, err
	}
	b, err := OpenBucket(ctx, where)
	if err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	sum := sha256.Sum256([]byte(cfg.URL))
	name := "files_" + hex.EncodeToString(sum[:4])
	if o.Pipeline != "" {
		name = "files_" + o.Pipeline + "_" + hex.EncodeToString(sum[:4])
	}
	s := &Sink{cfg: cfg, opts: o, svc: svc, cons: cons, bucket: b, part: part, name: name,
		log: o.Log.With("pipeline", o.Pipeline, "files", Redact(cfg.URL))}
	s.st.s = Status{Pipeline: o.Pipeline, Stream: o.Stream, URL: Redact(cfg.URL), Format: cfg.Format, State: Starting, Roll: rollRule(cfg)}
	s.st.maxAge = cfg.MaxAge
	if cfg.Format == Parquet {
		// A schema that cannot give columns stops the start; a stream not
		// created yet is checked when its first object is written.
		if _, err := s.columns(ctx); err != nil && !errors.Is(err, catalog.ErrNotFound) {
			_ = b.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close releases the storage, and the durable consumer of a sink that was
// removed from its group; call after Run returned.
func (s *Sink) Close() error {
	err := s.bucket.Close()
	if s.forget {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if derr := s.cons.DeleteConsumer(ctx, s.opts.Stream, s.name); derr != nil && !errors.Is(derr, engine.ErrNotFound) {
			err = errors.Join(err, derr)
		}
	}
	return err
}

// Name names the sink by its durable consumer on the stream:
// "files_<pipeline>_<hash of the URL>", stable across restarts.
func (s *Sink) Name() string { return s.name }

// Pipeline is the pipeline whose outputs the sink writes ("" for every event).
func (s *Sink) Pipeline() string { return s.opts.Pipeline }

// Status reports what the sink did and is doing.
func (s *Sink) Status() Status { return s.st.view() }

// ours reports whether an event of the stream is the pipeline's.
func (s *Sink) ours(e event.Event) bool {
	return s.opts.Pipeline == "" || e.Origin == s.opts.Pipeline || e.Origin == s.opts.Pipeline+"-redrive"
}

// foreign counts and reports a message of the stream that is not an event
// sluice stored (published straight into the stream's NATS subject, with
// whatever headers and bytes): it is passed over, never written. The log
// says the first and then every thousandth, so a flood does not flood it.
func (s *Sink) foreign(e event.Event, err error) {
	var n uint64
	s.st.set(func(st *Status) { st.Foreign++; n = st.Foreign })
	if n == 1 || n%1000 == 0 {
		s.log.Warn("files output passes over a message that is not an event", "seq", e.Seq, "err", err, "so_far", n)
	}
}

// Run writes objects until ctx ends; failures (the storage or the engine
// unavailable) are retried with backoff, and nothing is acknowledged that
// is not in a committed object.
func (s *Sink) Run(ctx context.Context) {
	b := backoff.NewExponentialBackOff()
	b.MaxInterval = 30 * time.Second
	for ctx.Err() == nil {
		err := s.session(ctx)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			s.st.fail(err)
			wait := b.NextBackOff()
			s.log.Warn("files output failing; retrying", "err", err, "in", wait)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			continue
		}
		b.Reset()
	}
	s.st.gathering(nil)
	s.st.set(func(st *Status) { st.State = Stopped })
}

// consumer opens the sink's durable consumer. It is created again just
// after its acknowledgement floor at every start, so that deliveries a
// crashed process left unacknowledged come at once, in order, and the
// settings are the current ones. The sink itself keeps at most MaxEvents
// and a fetch unacknowledged, but skipping an object committed before
// needs all of its deliveries (it may have been cut under a larger
// MaxEvents), hence the engine's bound of MaxMaxEvents.
func (s *Sink) consumer(ctx context.Context) (engine.Consumer, error) {
	start, err := s.svc.Resolve(ctx, s.opts.Stream, event.Position{Kind: event.Earliest})
	if err != nil {
		return nil, err
	}
	cfg := engine.ConsumerConfig{Stream: s.opts.Stream, Name: s.name, StartSeq: start,
		MaxAckPending: MaxMaxEvents + 2*fetchMax, AckWait: s.cfg.MaxAge + ackSlack, AckAll: true}
	c, err := s.cons.EnsureConsumer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	st, err := c.State(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.cons.DeleteConsumer(ctx, s.opts.Stream, s.name); err != nil {
		return nil, err
	}
	cfg.StartSeq = max(st.AckFloor+1, start)
	s.log.Info("files output reading", "stream", s.opts.Stream, "from", cfg.StartSeq, "consumer", s.name)
	return s.cons.EnsureConsumer(ctx, cfg)
}

// session reads deliveries and commits objects until ctx ends or a
// failure of the engine.
func (s *Sink) session(ctx context.Context) error {
	c, err := s.consumer(ctx)
	if err != nil {
		return err
	}
	r := &roller{s: s}
	var polled time.Time
	s.st.gathering(nil)
	s.st.set(func(st *Status) { st.State = Running })
	for {
		wait := fetchWait
		if r.open != nil {
			wait = min(wait, max(time.Until(r.open.opened.Add(s.cfg.MaxAge)), time.Millisecond))
		}
		batch, err := c.Fetch(ctx, fetchMax, wait)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetch from %q: %w", s.opts.Stream, err)
		}
		for _, d := range batch {
			if err := r.add(ctx, d); err != nil {
				return err
			}
		}
		if r.open != nil && time.Since(r.open.opened) >= s.cfg.MaxAge {
			if err := r.commit(ctx); err != nil {
				return err
			}
		}
		if err := r.ackIdle(ctx); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(polled) >= time.Second { // the lag, for status and metrics
			polled = time.Now()
			if st, err := c.State(ctx); err == nil {
				s.st.set(func(v *Status) {
					v.Position, v.LagEvents, v.UnreadEvents = max(v.Position, st.AckFloor), st.Pending+st.InFlight, st.Pending
				})
			}
		}
	}
}
