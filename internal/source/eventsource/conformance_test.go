package eventsource

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/source/sourcetest"
	"github.com/sluice-dev/sluice/internal/wikisim/eventstreams"
)

// The EventStreams simulator on loopback serves 40 recorded events and
// ends every connection after 7: cut, or silent until the feed finds it
// dead; past the last, a connection stays open with nothing to send, as
// the live feed does. Both kinds of ids: offsets, and timestamps that
// three events of a millisecond share.
func TestConformance(t *testing.T) {
	all, err := eventstreams.Load("../../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	events := all[:40]
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	clock := func(n int64) time.Time { return base.Add(time.Duration(n/3) * time.Millisecond) }
	for name, o := range map[string]eventstreams.Options{
		"offsets":    {DropEvery: 7},
		"timestamps": {DropEvery: 7, TimestampIDs: true, Clock: clock},
		"silent":     {SilentAfter: 7, TimestampIDs: true, Clock: clock},
	} {
		t.Run(name, func(t *testing.T) {
			sourcetest.Run(t, func(t *testing.T) sourcetest.Subject {
				es := eventstreams.New(events, o)
				hs := httptest.NewServer(es)
				t.Cleanup(func() { es.Close(); hs.Close() })
				f := New("conformance", Config{URL: hs.URL + "/v2/stream/recentchange", UserAgent: "sluice-test/0 (tests; ops@example.org)",
					IdleTimeout: 300 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}, slog.New(slog.DiscardHandler))
				return sourcetest.Subject{Feed: f, Events: events, Key: metaID}
			})
		})
	}
}

func metaID(data []byte) string {
	var e struct {
		Meta struct{ ID string } `json:"meta"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return "not JSON: " + string(data)
	}
	return e.Meta.ID
}
