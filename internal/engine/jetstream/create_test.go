package jetstream

import (
	"fmt"
	"testing"
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
