package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The server's log line for a failed stream creation gives its reason to
// the error of that stream's creation, and only of that stream's.
func TestCreateFailureReason(t *testing.T) {
	var f createFailures
	f.notice("Stream create failed for '$G > KV_sluice_a': storage directory is not writable")
	f.notice("some other warning")
	for i := range 10 {
		f.notice(fmt.Sprintf("Stream create failed for '$G > s%d': reason %d", i, i))
	}
	f.notice("Stream create failed for '$G > s3': later reason")
	if got := f.reason("s3"); got != "later reason" {
		t.Fatalf("reason(s3) = %q", got)
	}
	if got := f.reason("s9"); got != "reason 9" {
		t.Fatalf("reason(s9) = %q", got)
	}
	if got := f.reason("KV_sluice_a"); got != "" {
		t.Fatalf("an old reason is kept: %q", got)
	}
	if got := f.reason("nope"); got != "" {
		t.Fatalf("reason(nope) = %q", got)
	}
}

// A creation answered "not now" (no suitable peers, the cluster electing,
// the store not made, an attempt that timed out) is tried again, each
// attempt with its own deadline; any other answer ends it.
func TestCreateRetries(t *testing.T) {
	e := &Engine{log: slog.New(slog.DiscardHandler)}
	notNow := []error{
		&jetstream.APIError{ErrorCode: errCodeNoPeers, Description: "no suitable peers for placement"},
		&jetstream.APIError{ErrorCode: errCodeClusterUnavailable, Description: "JetStream system temporarily unavailable"},
		&jetstream.APIError{ErrorCode: errCodeStoreFailed, Description: "error creating store for stream"},
		context.DeadlineExceeded,
	}
	calls := 0
	err := e.create(context.Background(), "s", func(ctx context.Context) error {
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > createAttemptTimeout {
			t.Errorf("attempt %d without its own deadline", calls)
		}
		calls++
		if calls <= len(notNow) {
			return notNow[calls-1]
		}
		return nil
	})
	if err != nil || calls != len(notNow)+1 {
		t.Fatalf("after %d calls: %v", calls, err)
	}
	refused := &jetstream.APIError{ErrorCode: 10058, Description: "stream name already in use with a different configuration"}
	calls = 0
	err = e.create(context.Background(), "s", func(context.Context) error { calls++; return refused })
	if !errors.Is(err, refused) || calls != 1 {
		t.Fatalf("a refusal is not tried again: %d calls, %v", calls, err)
	}
}
