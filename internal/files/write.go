package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cenkalti/backoff/v5"
	"gocloud.dev/blob"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
)

// partSize is the size of the parts of an upload to S3 (the smallest S3
// allows); with two in flight, an upload holds about 10 MiB.
const partSize = 5 << 20

// write commits an object: it reads the span's events from the stream
// again and streams them to storage under the object's final name. Failures
// are retried with backoff until ctx ends; the deliveries wait meanwhile.
func (s *Sink) write(ctx context.Context, sp *span) error {
	key := Key(sp.partition, sp.first, sp.last, s.cfg.Format)
	b := backoff.NewExponentialBackOff()
	b.MaxInterval = 30 * time.Second
	for {
		start := time.Now()
		events, size, err := s.writeOnce(ctx, sp, key)
		if err == nil {
			now := time.Now().UTC()
			s.st.gathering(nil)
			s.st.set(func(st *Status) {
				st.State = Running
				if events > 0 {
					st.Objects, st.Events, st.Bytes = st.Objects+1, st.Events+uint64(events), st.Bytes+uint64(size)
					st.LastObject = key
				}
				st.LastCommitted, st.LastCommitTime = sp.last, &now
			})
			s.log.Debug("files output committed an object", "object", key, "events", events, "bytes", size, "took", time.Since(start))
			if events != sp.events {
				s.log.Warn("files output: events were deleted from the stream before their object was written",
					"object", key, "gathered", sp.events, "written", events)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.st.fail(err)
		wait := b.NextBackOff()
		s.log.Warn("files output cannot write an object; retrying", "object", key, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// writeOnce writes the object once. Nothing is visible unless it returns
// nil: the storage shows an object only when its writer is closed
// successfully (fileblob renames a finished temporary file, S3 completes
// the upload), and a cancelled writer leaves nothing.
func (s *Sink) writeOnce(ctx context.Context, sp *span, key string) (events int, size int64, err error) {
	var cols *columns
	if s.cfg.Format == Parquet {
		if cols, err = s.columns(ctx); err != nil {
			return 0, 0, err
		}
	}
	until := event.Position{Kind: event.Sequence, Seq: sp.last + 1}
	cur, err := s.svc.Open(ctx, s.opts.Stream, stream.Range{From: event.Position{Kind: event.Sequence, Seq: sp.first}, Until: &until})
	if err != nil {
		return 0, 0, fmt.Errorf("read %s %d-%d: %w", s.opts.Stream, sp.first, sp.last, err)
	}
	defer cur.Close()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentType(s.cfg.Format),
		BufferSize: partSize, MaxConcurrency: 2})
	if err != nil {
		return 0, 0, fmt.Errorf("create %s: %w", key, err)
	}
	abort := func(err error) (int, int64, error) {
		cancel()
		_ = w.Close()
		return 0, 0, err
	}
	cw := &counter{w: w}
	enc, err := newEncoder(s.cfg.Format, cw, cols)
	if err != nil {
		return abort(err)
	}
	for {
		e, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return abort(fmt.Errorf("read %s %d-%d: %w", s.opts.Stream, sp.first, sp.last, err))
		}
		if !s.ours(e) || sp.foreign[e.Seq] {
			continue
		}
		if err := enc.add(e); err != nil {
			return abort(fmt.Errorf("write %s: %w", key, err))
		}
		events++
	}
	if events == 0 {
		return abort(nil) // every event was deleted from the stream meanwhile: no empty object
	}
	if err := enc.finish(); err != nil {
		return abort(fmt.Errorf("write %s: %w", key, err))
	}
	if err := w.Close(); err != nil {
		return 0, 0, fmt.Errorf("commit %s: %w", key, err)
	}
	return events, cw.n, nil
}

// columns gives the Parquet columns of the stream's current schema.
func (s *Sink) columns(ctx context.Context) (*columns, error) {
	def, err := s.svc.Get(ctx, s.opts.Stream)
	if err != nil {
		return nil, err
	}
	if s.cols != nil && s.colsV == def.Version {
		return s.cols, nil
	}
	versions, err := s.svc.Versions(ctx, s.opts.Stream)
	if err != nil {
		return nil, err
	}
	for _, v := range versions {
		if v.Version != def.Version {
			continue
		}
		sch, err := schema.Compile(v.Schema)
		if err != nil {
			return nil, fmt.Errorf("schema of %s v%d: %w", s.opts.Stream, v.Version, err)
		}
		cols, err := columnsOf(sch.Root())
		if err != nil {
			return nil, fmt.Errorf("parquet columns of %s v%d: %w", s.opts.Stream, v.Version, err)
		}
		s.cols, s.colsV = cols, def.Version
		return cols, nil
	}
	return nil, fmt.Errorf("schema of %s: version %d not found", s.opts.Stream, def.Version)
}

// counter counts the bytes written through it.
type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
