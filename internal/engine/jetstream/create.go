package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Answers to a stream or bucket creation that say "not now" rather than
// "no": creating tries again for a while (createPatience).
const (
	// errCodeStoreFailed is the server's "error creating store for stream":
	// its file store could not be made. The server logs why; the answer does
	// not say. Seen under heavy load (CI) for a fresh directory and gone a
	// moment later.
	errCodeStoreFailed = 10049
	// errCodeNoPeers is a cluster that has too few servers it can place
	// the replicas on now: a cluster whose routes are not all up yet, or a
	// server restarting. A cluster too small for the replicas says so too,
	// and keeps saying it: the last answer is returned then.
	errCodeNoPeers = 10005
	// errCodeClusterUnavailable is a cluster electing its meta leader.
	errCodeClusterUnavailable = 10008
)

const (
	// createPatience bounds the retries of one creation (the caller's
	// context may end it sooner).
	createPatience = 10 * time.Second
	// createAttemptTimeout bounds one attempt: a request the cluster lost
	// in an election is asked again instead of waited for.
	createAttemptTimeout = 5 * time.Second
)

// create runs do, with a context bounded by createAttemptTimeout, until it
// succeeds, fails otherwise than "not now" (see the codes above, or an
// attempt that timed out), or createPatience has passed; it waits 50 ms
// after the first attempt, doubling up to 1 s. A last failure carries the
// reason the embedded server logged for stream.
func (e *Engine) create(ctx context.Context, stream string, do func(ctx context.Context) error) error {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, createAttemptTimeout)
		err := do(actx)
		cancel()
		if err == nil || ctx.Err() != nil || !retryCreate(err) {
			return err
		}
		wait := min(time.Duration(50<<attempt)*time.Millisecond, time.Second)
		if time.Since(start)+wait > createPatience {
			if why := e.failures.reason(stream); why != "" {
				return fmt.Errorf("%w (the server says: %s)", err, why)
			}
			return fmt.Errorf("%w (tried %d times in %s)", err, attempt+1, time.Since(start).Round(time.Millisecond))
		}
		e.log.Debug("creating a stream: not now; trying again", "stream", stream, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (then %w)", err, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// retryCreate reports an answer that may change by itself in a moment.
func retryCreate(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case errCodeStoreFailed, errCodeNoPeers, errCodeClusterUnavailable:
			return true
		}
		return false
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)
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
