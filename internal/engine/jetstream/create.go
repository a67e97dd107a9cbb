package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// errCodeStoreFailed is the server's "error creating store for stream": its
// file store could not be made. The server logs why; the answer does not
// say. Seen under heavy load (CI) for a fresh directory and gone a moment
// later, so creating a stream or bucket tries a few times.
const errCodeStoreFailed = 10049

// createAttempts: 50 ms, 100, 200, 400 between them, under a second in all.
const createAttempts = 5

// create runs do until it succeeds, fails otherwise than with
// errCodeStoreFailed, or has been tried createAttempts times. A last
// failure carries the reason the embedded server logged for stream.
func (e *Engine) create(ctx context.Context, stream string, do func() error) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = do()
		var apiErr *jetstream.APIError
		if err == nil || !errors.As(err, &apiErr) || apiErr.ErrorCode != errCodeStoreFailed {
			return err
		}
		if attempt == createAttempts-1 {
			if why := e.failures.reason(stream); why != "" {
				return fmt.Errorf("%w (the server says: %s)", err, why)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (then %w)", err, ctx.Err())
		case <-time.After(time.Duration(50<<attempt) * time.Millisecond):
		}
	}
}

// createFailures keeps the reasons the server logged for the last few
// stream creations that failed ("Stream create failed for '$G > NAME': why").
type createFailures struct {
	mu   sync.Mutex
	last [8]struct{ stream, why string }
	next int
}

const createFailedPrefix = "Stream create failed for '"

// notice takes one server log line.
func (f *createFailures) notice(line string) {
	rest, ok := strings.CutPrefix(line, createFailedPrefix)
	if !ok {
		return
	}
	target, why, ok := strings.Cut(rest, "': ")
	if !ok {
		return
	}
	_, stream, _ := strings.Cut(target, " > ")
	f.mu.Lock()
	f.last[f.next%len(f.last)] = struct{ stream, why string }{stream, why}
	f.next++
	f.mu.Unlock()
}

func (f *createFailures) reason(stream string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 1; i <= len(f.last); i++ {
		if l := f.last[(f.next-i+len(f.last)*2)%len(f.last)]; l.stream == stream {
			return l.why
		}
	}
	return ""
}
