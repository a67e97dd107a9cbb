package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPipelineStatusSaysWhy: pipeline status prints how long the oldest
// input waits, since when the totals count, and for a files output what
// its open object holds apart from what it did not read, and when it rolls.
func TestPipelineStatusSaysWhy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"name":"p","from":"in","function":"jq","to":["files:file:///x/"],"state":"running","paused":false,
			"position":7300,"lag_events":3,"lag_seconds":2.2,"rate":12,"processed":7300,"filtered":0,"failed":0,"outputs":7300,
			"counted_since":"2026-11-01T10:00:00Z",
			"files":[{"pipeline":"p","url":"file:///x/","format":"ndjson","state":"running","position":53,"lag_events":7247,
			"unread_events":0,"held_events":7247,"roll":"every 5m0s, at 64MiB or 100000 events",
			"waiting":"rolls every 5m0s, at 64MiB or 100000 events; next roll by 12:05:00 UTC","objects":2}],"history":[]}`))
	}))
	defer srv.Close()
	out := mustRun(t, srv.URL, "pipeline", "status", "p")
	flat := strings.Join(strings.Fields(out), " ") // columns aligned by the tabwriter
	for _, s := range []string{
		"3 events, the oldest waiting 2s",
		"counted since 2026-11-01T10:00:00Z (totals across restarts and nodes)",
		"files file:///x/ running, position 53, 7247 events not yet in an object: 7247 held in the open object, 0 not read yet",
		"waiting rolls every 5m0s, at 64MiB or 100000 events; next roll by 12:05:00 UTC",
	} {
		if !strings.Contains(flat, s) {
			t.Errorf("status lacks %q:\n%s", s, out)
		}
	}
}
