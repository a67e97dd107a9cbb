package stream

import (
	"errors"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/event"
)

func TestForeign(t *testing.T) {
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
	} {
		err := Foreign(c.e)
		if (err == nil) != c.ok || err != nil && !errors.Is(err, ErrForeign) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
