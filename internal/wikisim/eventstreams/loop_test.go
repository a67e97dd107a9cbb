package eventstreams

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// withoutLoopFields decodes an event without the fields a loop rewrites.
func withoutLoopFields(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "timestamp")
	meta := m["meta"].(map[string]any)
	delete(meta, "dt")
	delete(meta, "id")
	return m
}

func TestLoopCapture(t *testing.T) {
	evs := mustLoad(t, captureFile) // 3 events, all at 04:27:02: each loop is 1 s later
	_, ts := start(t, evs, Options{Loop: true})
	c := dial(t, ts, "/v2/stream/recentchange")
	got := c.read(t, 12)
	seen := map[string]bool{}
	for n, e := range got {
		k, i := n/3, n%3
		if e.ID != idFor(int64(n)) {
			t.Fatalf("event %d: id %s", n, e.ID)
		}
		orig, now := decode(t, evs[i]), decode(t, e.Data)
		wantDT := time.Date(2022, 12, 11, 4, 27, 2+k, 0, time.UTC).Format(time.RFC3339)
		if now.Meta.DT != wantDT || now.Timestamp != orig.Timestamp+int64(k) {
			t.Fatalf("loop %d event %d: dt %s timestamp %d, want %s %d", k, i, now.Meta.DT, now.Timestamp, wantDT, orig.Timestamp+int64(k))
		}
		switch {
		case k == 0 && string(e.Data) != string(evs[i]):
			t.Fatalf("loop 0 event %d differs from the recording", i)
		case k > 0 && !uuidShape.MatchString(now.Meta.ID):
			t.Fatalf("loop %d event %d: meta.id %q", k, i, now.Meta.ID)
		case seen[now.Meta.ID]:
			t.Fatalf("loop %d event %d: meta.id %s repeats", k, i, now.Meta.ID)
		}
		seen[now.Meta.ID] = true
		if !reflect.DeepEqual(withoutLoopFields(t, e.Data), withoutLoopFields(t, evs[i])) {
			t.Fatalf("loop %d event %d: a field other than meta.dt, meta.id, timestamp changed", k, i)
		}
	}
}

func TestLoopSeekAndResume(t *testing.T) {
	evs := mustLoad(t, ndjsonFile)
	s, ts := start(t, evs, Options{Loop: true})
	// The recording spans 07:51:39 to 07:53:59 (not in order): loops are
	// 141 s apart, so every event of a loop is later than all before it.
	const shift = 141_000
	c := dial(t, ts, "/v2/stream/recentchange")
	got := c.read(t, 300)
	c.close()
	var prevMax int64
	for k := range 3 {
		lo, hi := int64(1<<62), int64(0)
		for i := range 100 {
			n := k*100 + i
			e := got[n]
			if e.ID != idFor(int64(n)) {
				t.Fatalf("event %d: id %s", n, e.ID)
			}
			ms := dtMs(t, e.Data)
			if ms != dtMs(t, evs[i])+int64(k)*shift {
				t.Fatalf("loop %d event %d: dt shifted by %d ms", k, i, ms-dtMs(t, evs[i]))
			}
			lo, hi = min(lo, ms), max(hi, ms)
		}
		if k > 0 && lo <= prevMax {
			t.Fatalf("loop %d starts at %d, before loop %d ends at %d", k, lo, k-1, prevMax)
		}
		prevMax = hi
	}

	// Resume inside loop 1: no gap, no repeat, identical bytes.
	c = dial(t, ts, "/v2/stream/recentchange", "Last-Event-ID", got[149].ID)
	for n, e := range c.read(t, 60) {
		if want := got[150+n]; e.ID != want.ID || string(e.Data) != string(want.Data) {
			t.Fatalf("resumed event %d: %s, want %s", n, e.ID, want.ID)
		}
	}
	c.close()

	// since inside loop 2 seeks there, also from far ahead.
	for _, k := range []int64{2, 500} {
		ms := dtMs(t, evs[40]) + k*shift
		want := k*100 + firstAtOrAfter(t, evs, ms-k*shift)
		c = dial(t, ts, "/v2/stream/recentchange?since="+time.UnixMilli(ms).UTC().Format(time.RFC3339))
		e := c.next(t)
		c.close()
		if r := lastRequest(t, s); r.Start != want || e.ID != idFor(want) || dtMs(t, e.Data) < ms {
			t.Fatalf("since loop %d: start %d id %s, want %d", k, r.Start, e.ID, want)
		}
	}
}

func TestRenderKeepsOtherBytes(t *testing.T) {
	in := `{ "timestamp" : 1700000000 , "meta" : { "id" : "x\"y", "dt" : "2023-11-14T22:13:20Z", "n": {"dt": 1} }, "s":"\u00e9<" }`
	e := prepare([]byte(in))
	want := `{ "timestamp" : 1700000010 , "meta" : { "id" : "` + loopID(`x"y`, 2) + `", "dt" : "2023-11-14T22:13:30Z", "n": {"dt": 1} }, "s":"\u00e9<" }`
	if got := string(e.render(nil, 2, 5000)); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if got := string(e.render(nil, 0, 5000)); got != in {
		t.Fatalf("loop 0 changed the event: %s", got)
	}
	// Without meta.dt, the event time is the "timestamp"; nothing else breaks.
	if e := prepare([]byte(`{"timestamp":1700000000,"meta":[]}`)); e.ms != 1700000000000 || e.dtOK || e.idSpan.ok() {
		t.Fatalf("%+v", e)
	}
}

// Rewrite sees each event as a loop renders it, with its offset, and what
// it returns is what goes out.
func TestRewrite(t *testing.T) {
	evs := mustLoad(t, captureFile)
	_, ts := start(t, evs, Options{Loop: true, Rewrite: func(n int64, ev []byte) []byte {
		if n == 4 {
			return []byte(`{"meta":{"dt":"2026-11-27T10:00:00Z","stream":"mediawiki.recentchange"},"rewritten":4}`)
		}
		return ev
	}})
	c := dial(t, ts, "/v2/stream/recentchange")
	got := c.read(t, 6)
	for n, e := range got {
		switch {
		case n == 4 && string(e.Data) != `{"meta":{"dt":"2026-11-27T10:00:00Z","stream":"mediawiki.recentchange"},"rewritten":4}`:
			t.Fatalf("event 4: %s", e.Data)
		case n != 4 && decode(t, e.Data).Meta.DT == "":
			t.Fatalf("event %d: %s", n, e.Data)
		}
	}
}
