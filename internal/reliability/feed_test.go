//go:build reliability

package reliability

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/source"
	"github.com/sluice-dev/sluice/internal/wikisim/eventstreams"
)

// TestFeedFaults feeds the flagship project's source from the replay of the
// recorded events (400 events/s) while the feed cuts the connection every
// 37 events, answers every other connection with 429 and Retry-After, and
// goes silent with the connection open, in turn, SLUICE_FEED_CYCLES times
// (default 3). At the end every event the feed sent is in the stream once,
// in feed order: no gap, no duplicate.
func TestFeedFaults(t *testing.T) {
	cycles := envInt(t, "SLUICE_FEED_CYCLES", 3)
	replay := eventstreams.New(recorded(t), eventstreams.Options{Loop: true, Rate: 400})
	ts := httptest.NewServer(replay)
	t.Cleanup(ts.Close)
	t.Cleanup(replay.Close) // first: ends the open feeds
	cfg := projectConfig(t, ts.URL+"/v2/stream/recentchange", "")
	cfg.Sources[src] = cfg.Sources[src].With("sse", map[string]any{"idle_timeout": "1s", "max_backoff": "200ms"})
	n, base := startNode(t, cfg)

	type phase struct {
		name string
		set  func()
		for_ time.Duration
	}
	phases := []phase{
		{"cut every 37 events", func() { replay.SetDropEvery(37) }, 3 * time.Second},
		{"429 every other connection", func() { replay.SetStatus429Every(2); replay.SetDropEvery(60) }, 5 * time.Second},
		{"silent after 90 events", func() { replay.SetSilentAfter(90) }, 4 * time.Second},
	}
	var cuts, tooMany, silences int
	began := time.Now()
	for range cycles {
		for _, p := range phases {
			from := len(replay.Requests())
			p.set()
			time.Sleep(p.for_)
			replay.SetDropEvery(0)
			replay.SetStatus429Every(0)
			replay.SetSilentAfter(0)
			for _, r := range replay.Requests()[from:] {
				switch {
				case r.Status == http.StatusTooManyRequests:
					tooMany++
				case r.Status == http.StatusOK && p.name == phases[0].name:
					cuts++
				case r.Status == http.StatusOK && p.name == phases[2].name:
					silences++
				}
			}
		}
	}
	time.Sleep(time.Second) // a fault-free stretch
	if _, err := n.Sources.SetPaused(context.Background(), src, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "paused", func() bool {
		v, _ := n.Sources.Get(src)
		return v.State == source.Paused
	})
	st, _ := n.Sources.Get(src)
	if cuts < 5*cycles || tooMany < 2*cycles || silences < 2*cycles {
		t.Fatalf("too few faults: %d cuts, %d 429s, %d silences", cuts, tooMany, silences)
	}
	inputs := readStream(t, base, input)
	want := replayIDs(t, recorded(t), len(inputs))
	for i, raw := range inputs {
		if id := metaID(t, raw); id != want[i] {
			t.Fatalf("input %d: %s, want %s: a gap, a duplicate or out of order", i, id, want[i])
		}
	}
	if st.Stored != uint64(len(inputs)) || st.DeadLettered != 0 || st.Unreadable != 0 {
		t.Fatalf("source: %+v, %d inputs", st, len(inputs))
	}
	t.Logf("%v of faults: %d connections (%d cut after 37 events, %d answered 429, %d gone silent), %d source reconnects; "+
		"%d events stored once each and in feed order (%d duplicates dropped)",
		time.Since(began).Round(time.Second), replay.Connections(), cuts, tooMany, silences, st.Reconnects, len(inputs), st.Duplicates)
}
