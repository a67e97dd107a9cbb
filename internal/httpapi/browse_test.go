package httpapi_test

import (
	"bytes"
	"fmt"
	"net/url"
	"testing"
)

// Filtered reads and newest-first pages, checked against a brute force
// over the recorded events.
func TestReadFilterAndNewestFirst(t *testing.T) {
	n := start(t, t.TempDir())
	defer stop(t, n)
	c := newClient(t, n)
	events := recorded(t)
	if status, _, body := c.call("POST", "/v1/streams/"+rcStream+"/events", "application/x-ndjson", bytes.Join(events, []byte("\n"))); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	metaID := func(e map[string]any) string { return e["meta"].(map[string]any)["id"].(string) }
	var bots []string // ids of events by bots, in stream order
	for _, e := range events {
		m := decode[map[string]any](t, e)
		if m["bot"] == true {
			bots = append(bots, metaID(m))
		}
	}
	if len(bots) == 0 || len(bots) == len(events) {
		t.Fatalf("the recorded data should mix bots and people: %d of %d", len(bots), len(events))
	}
	q := "filter=" + url.QueryEscape("event.bot == true")
	got, next := readPage(t, c, q)
	if len(got) != len(bots) || next != "101" {
		t.Fatalf("filter: %d events (want %d), next %s", len(got), len(bots), next)
	}
	for i, e := range got {
		if metaID(e) != bots[i] {
			t.Fatalf("filter: event %d is %s, want %s", i, metaID(e), bots[i])
		}
	}
	// newest first, two events a page, all the way back
	var seen []string
	until := ""
	for range len(bots) {
		page, nx := readPage(t, c, q+"&order=desc&limit=2"+until)
		for _, e := range page {
			seen = append(seen, metaID(e))
		}
		if nx == "0" {
			break
		}
		until = "&until=" + nx
	}
	if len(seen) != len(bots) {
		t.Fatalf("desc pages: %d events, want %d", len(seen), len(bots))
	}
	for i := range seen {
		if seen[i] != bots[len(bots)-1-i] {
			t.Fatalf("desc: event %d is %s, want %s", i, seen[i], bots[len(bots)-1-i])
		}
	}
	// newest first without a filter: the last three
	page, nx := readPage(t, c, "order=desc&limit=3")
	if len(page) != 3 || nx != "98" || metaID(page[0]) != metaID(decode[map[string]any](t, events[99])) {
		t.Fatalf("desc: %d events, next %s", len(page), nx)
	}
	// a field some events lack: they do not match, nothing fails
	if got, _ := readPage(t, c, "filter="+url.QueryEscape(`event.log_type == "delete"`)); len(got) > len(events) {
		t.Fatalf("missing field: %d", len(got))
	}
	for _, bad := range []string{"filter=" + url.QueryEscape("event.bot =="), "filter=" + url.QueryEscape(`"a string"`), "order=sideways"} {
		if status, _, body := c.call("GET", "/v1/streams/"+rcStream+"/events?"+bad, "", nil); status != 400 {
			t.Errorf("%s: %d %s", bad, status, body)
		}
	}
	_, _, body := c.call("GET", "/v1/streams/"+rcStream, "", nil)
	info := decode[struct {
		Rate float64 `json:"rate_per_s"`
	}](t, body)
	if want := 100.0 / 60; fmt.Sprintf("%.3f", info.Rate) != fmt.Sprintf("%.3f", want) {
		t.Fatalf("rate over the last minute: %v, want %v", info.Rate, want)
	}
}
