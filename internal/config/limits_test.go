package config

import (
	"strings"
	"testing"
)

func TestProduceLimits(t *testing.T) {
	c, err := Parse([]byte("limits:\n  max_event_bytes: 64KiB\n"))
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Limits.ProduceLimits; l.MaxEventsPerRequest != 100_000 || l.MaxNumberLength != 100 || l.MaxInvalidListed != 100 {
		t.Fatalf("defaults %+v", l)
	}
	c, err = Parse([]byte("limits:\n  max_events_per_request: 5\n  max_number_length: 40\n  max_invalid_listed: 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Limits.ProduceLimits; l.MaxEventsPerRequest != 5 || l.MaxNumberLength != 40 || l.MaxInvalidListed != 3 || c.Limits.MaxEventBytes != 1<<20 {
		t.Fatalf("parsed %+v", c.Limits)
	}
	for doc, path := range map[string]string{
		"limits:\n  max_events_per_request: -1\n": "limits.max_events_per_request",
		"limits:\n  max_number_length: 5\n":       "limits.max_number_length",
		"limits:\n  max_invalid_listed: 20000\n":  "limits.max_invalid_listed",
	} {
		if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: %v, want an error naming %s", doc, err, path)
		}
	}
}
