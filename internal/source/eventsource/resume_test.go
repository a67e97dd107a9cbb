package eventsource

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func tsID(ms int64) string {
	return fmt.Sprintf(`[{"topic":"eqiad.mediawiki.recentchange","partition":0,"timestamp":%d},{"topic":"codfw.mediawiki.recentchange","partition":0,"offset":-1}]`, ms)
}

func TestEarlier(t *testing.T) {
	rf := earlier(tsID(1001))
	var es []map[string]any
	if err := json.Unmarshal([]byte(rf.header), &es); err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0]["timestamp"] != 1000.0 || es[1]["offset"] != -1.0 || es[1]["topic"] != "codfw.mediawiki.recentchange" {
		t.Fatalf("header %s", rf.header)
	}
	for id, want := range map[string]bool{tsID(1001): true, tsID(1000): true, tsID(5): true, tsID(1002): false, `[]`: false, `x`: false,
		`[{"topic":"other","partition":0,"timestamp":1}]`: false} {
		if got := rf.again(id); got != want {
			t.Errorf("again(%s) = %v, want %v", id, got, want)
		}
	}
	// Offsets are exact, and ids of other shapes are sent as they are.
	for _, id := range []string{`[{"topic":"t","partition":0,"offset":41}]`, `42`, `not json`, `[{"topic":"t","partition":0,"timestamp":"x"}]`} {
		if rf := earlier(id); rf.header != id || rf.bound != nil {
			t.Errorf("earlier(%s) = %+v", id, rf)
		}
	}
}

// Events a, b, c share a millisecond; the last read was b: a and b come
// again and are skipped, c and what follows are delivered.
func TestOverlapSkipsUpToTheLastRead(t *testing.T) {
	ov := newOverlap(earlier(tsID(11)), []byte(`{"n":"b"}`))
	var got []string
	for _, e := range [][2]string{{tsID(11), `{"n":"a"}`}, {tsID(11), `{"n":"b"}`}, {tsID(11), `{"n":"c"}`}, {tsID(12), `{"n":"d"}`}} {
		for _, d := range ov.next(e[0], []byte(e[1])) {
			got = append(got, d[1])
		}
	}
	if fmt.Sprint(got) != `[{"n":"c"} {"n":"d"}]` || ov.skipped != 2 {
		t.Fatalf("delivered %v, skipped %d", got, ov.skipped)
	}
}

// With timestamps for two partitions, which events of the other partition
// came before the last one read is unknown: nothing is skipped.
func TestOverlapOfTwoPartitions(t *testing.T) {
	two := func(a, b int64) string {
		return fmt.Sprintf(`[{"topic":"eqiad.mediawiki.recentchange","partition":0,"timestamp":%d},{"topic":"codfw.mediawiki.recentchange","partition":0,"timestamp":%d}]`, a, b)
	}
	ov := newOverlap(earlier(two(11, 21)), []byte(`{"n":"a1"}`))
	var got []string
	for _, e := range [][2]string{{two(11, 21), `{"n":"b1"}`}, {two(11, 21), `{"n":"b2"}`}, {two(11, 21), `{"n":"a1"}`}, {two(12, 21), `{"n":"a2"}`}} {
		for _, d := range ov.next(e[0], []byte(e[1])) {
			got = append(got, d[1])
		}
	}
	if fmt.Sprint(got) != `[{"n":"b1"} {"n":"b2"} {"n":"a1"} {"n":"a2"}]` || ov.skipped != 0 {
		t.Fatalf("delivered %v, skipped %d", got, ov.skipped)
	}
}

// If the last event read never comes again, nothing held back is lost.
func TestOverlapWithoutTheLastRead(t *testing.T) {
	ov := newOverlap(earlier(tsID(11)), []byte(`{"n":"gone"}`))
	var got []string
	for _, e := range [][2]string{{tsID(10), `{"n":"a"}`}, {tsID(11), `{"n":"b"}`}, {tsID(12), `{"n":"c"}`}} {
		for _, d := range ov.next(e[0], []byte(e[1])) {
			got = append(got, d[1])
		}
	}
	if fmt.Sprint(got) != `[{"n":"a"} {"n":"b"} {"n":"c"}]` || ov.skipped != 0 {
		t.Fatalf("delivered %v, skipped %d", got, ov.skipped)
	}
	// Held back without bound: no.
	ov = newOverlap(earlier(tsID(11)), []byte(`{"n":"gone"}`))
	n := 0
	for i := range maxHeld + 1 {
		n += len(ov.next(tsID(11), fmt.Appendf(nil, `{"i":%d}`, i)))
	}
	if n != maxHeld+1 || !ov.done {
		t.Fatalf("delivered %d of %d held", n, maxHeld+1)
	}
	// A multi-line event is compared as stored: compacted.
	ov = newOverlap(earlier(tsID(11)), []byte(`{"a":1,"b":2}`))
	if d := ov.next(tsID(11), []byte("{\"a\": 1,\n\"b\": 2}")); d != nil || !ov.done || ov.skipped != 1 {
		t.Fatalf("multi-line: %v %+v", d, ov)
	}
}

// FuzzResume: whatever the ids, earlier never fails, an id with timestamps
// is within its own bound, and the overlap loses nothing: every event is
// either delivered, in order, or skipped as read before (and only events
// up to the last one read are skipped).
func FuzzResume(f *testing.F) {
	f.Add(tsID(11), "b", tsID(11)+"\n"+tsID(12), "a\nb\nc")
	f.Add(`[{"topic":"t","partition":0,"offset":5}]`, "x", `x`, "y")
	f.Add(`[{"topic":"t","partition":1,"timestamp":9e99}]`, "", "[]\n{}", "\n")
	f.Fuzz(func(t *testing.T, id, last, ids, datas string) {
		rf := earlier(id)
		if rf.bound != nil {
			var es []map[string]any
			if json.Unmarshal([]byte(rf.header), &es) != nil {
				t.Fatalf("earlier(%q) sends %q, not a JSON array", id, rf.header)
			}
			if !rf.again(id) {
				t.Fatalf("the last event's own id %q is not within the bound %v", id, rf.bound)
			}
		}
		ov := newOverlap(rf, []byte(last))
		in := strings.Split(datas, "\n")
		idl := strings.Split(ids, "\n")
		var out []string
		for i, d := range in {
			for _, e := range ov.next(idl[i%len(idl)], []byte(d)) {
				out = append(out, e[1])
			}
		}
		if len(out)+ov.skipped+len(ov.held) != len(in) {
			t.Fatalf("%d in, %d delivered, %d skipped, %d held", len(in), len(out), ov.skipped, len(ov.held))
		}
		// What is delivered is the end of the input, in order, after the
		// skipped ones; held ones are the latest and not delivered yet.
		want := in[ov.skipped : len(in)-len(ov.held)]
		if ov.skipped > 0 && !sameEvent([]byte(in[ov.skipped-1]), []byte(last)) {
			t.Fatalf("skipped %d events, the last of them %q is not the last read %q", ov.skipped, in[ov.skipped-1], last)
		}
		if strings.Join(out, "\n") != strings.Join(want, "\n") {
			t.Fatalf("delivered %q, want %q", out, want)
		}
	})
}
