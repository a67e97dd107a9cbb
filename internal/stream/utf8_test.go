package stream

import (
	"context"
	"strings"
	"testing"
	"time"
)

// JSON text is UTF-8 (RFC 8259): an event with other bytes in a string is
// refused with the offset of the first, never stored with them.
func TestProduceRefusesInvalidUTF8(t *testing.T) {
	s := newService(t)
	create(t, s, "utf8")
	good := ev("ok", time.Now())
	bad := []byte(`{"id":"b","dt":"2024-01-01T00:00:00Z","title":"a` + "\xff\xfe" + `"}`)
	cut := []byte(`{"id":"c","dt":"2024-01-01T00:00:00Z","title":"` + "\xe2\x82" + `"}`) // a rune cut short
	res, err := s.Produce(context.Background(), "utf8", [][]byte{bad, good, cut})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 1 || len(res.Invalid) != 2 {
		t.Fatalf("%+v", res)
	}
	for i, want := range map[int]string{0: "invalid UTF-8 at byte 48", 1: "invalid UTF-8 at byte 47"} {
		e := res.Invalid[i].Errors[0]
		if e.Keyword != RuleJSON || !strings.Contains(e.Message, want) {
			t.Errorf("invalid[%d]: %+v, want %q", i, e, want)
		}
	}
	if got := invalidUTF8At([]byte("abc")); got != 3 {
		t.Errorf("valid: %d", got)
	}
}
