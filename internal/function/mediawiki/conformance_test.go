package mediawiki

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sluice-dev/sluice/internal/function/functiontest"
	sim "github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// The function asks the MediaWiki simulator on loopback, in both modes: an
// edit of "Page n" on en is input n, one without a title fails alone, and
// an edit on de waits as long as the test lasts (the simulator holds de's
// requests).
func TestConformance(t *testing.T) {
	for _, mode := range []string{ModeCurrent, ModeRevision} {
		t.Run(mode, func(t *testing.T) {
			functiontest.Run(t, func(t *testing.T) functiontest.Subject {
				e := start(t, sim.Options{})
				t.Cleanup(blockWiki(e, de)) // runs before the simulator closes
				f := newFunc(t, e, map[string]any{"mode": mode})
				event := func(host string, n int) json.RawMessage {
					b, err := json.Marshal(edit(e, host, fmt.Sprintf("Page %d", n), int64(1000+n)))
					if err != nil {
						t.Fatal(err)
					}
					return b
				}
				return functiontest.Subject{
					Function: f,
					Event:    func(n int) json.RawMessage { return event(en, n) },
					Check: func(n int, outs []json.RawMessage) error {
						if len(outs) != 1 {
							return fmt.Errorf("%d outputs, want 1", len(outs))
						}
						var o output
						if err := json.Unmarshal(outs[0], &o); err != nil {
							return err
						}
						title := fmt.Sprintf("Page %d", n)
						if o.Title != title || o.RevID == nil || *o.RevID != int64(1000+n) || o.PageID == "" {
							return fmt.Errorf("output %s, want page %q, revision %d", outs[0], title, 1000+n)
						}
						return nil
					},
					Failing: func(n int) json.RawMessage {
						ev := edit(e, en, "", int64(1000+n))
						delete(ev, "title")
						b, _ := json.Marshal(ev)
						return b
					},
					Slow: func(n int) json.RawMessage { return event(de, n) },
				}
			})
		})
	}
}
