package stream

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/schema"
)

func TestNotEvent(t *testing.T) {
	at := time.Unix(1, 0)
	for _, c := range []struct {
		name string
		e    event.Event
		ok   bool
	}{
		{"an event", event.Event{ID: "a", Time: at, Data: []byte(`{"a":1}`)}, true},
		{"no id", event.Event{Time: at, Data: []byte(`{}`)}, false},
		{"no time", event.Event{ID: "a", Data: []byte(`{}`)}, false},
		{"not JSON", event.Event{ID: "a", Time: at, Data: []byte(`{"a":`)}, false},
		{"not UTF-8", event.Event{ID: "a", Time: at, Data: []byte("{\"a\":\"\xff\"}")}, false},
		{"an array", event.Event{ID: "a", Time: at, Data: []byte(`[{}]`)}, false},
		{"a string", event.Event{ID: "a", Time: at, Data: []byte(`"{}"`)}, false},
		{"empty", event.Event{ID: "a", Time: at}, false},
		{"no time mark", event.Event{ID: "a", Time: at, Data: []byte(`{}`), Foreign: true}, false},
	} {
		err := NotEvent(c.e)
		if (err == nil) != c.ok || err != nil && !errors.Is(err, ErrForeign) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// BenchmarkNotEvent is the check a pipeline and a files output make on
// every message, beside schema.Decode of the same event (what a where
// clause costs) as the baseline.
func BenchmarkNotEvent(b *testing.B) {
	data, err := os.ReadFile("../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	e := event.Event{Seq: 1, ID: "x", Time: time.Unix(1, 0), Data: line}
	b.Run("foreign", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			if NotEvent(e) != nil {
				b.Fatal("foreign")
			}
		}
	})
	b.Run("decode-baseline", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			if _, err := schema.Decode(line); err != nil {
				b.Fatal(err)
			}
		}
	})
}
