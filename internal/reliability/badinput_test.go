//go:build reliability

package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/source"
	"github.com/sluice-dev/sluice/internal/stream"
	"github.com/sluice-dev/sluice/internal/wikisim/eventstreams"
)

// bad is one malformed or schema-invalid event and the rules that may
// refuse it.
type bad struct {
	class   string
	raw     []byte
	rules   []string // acceptable errors[0].keyword
	pointer string   // errors[0].pointer, when the class decides it
}

// Sizes: the stream refuses events over 1 MiB; the source skips those over
// 4 MiB without reading them whole.
const (
	overStream = 1<<20 + 512<<10 // 1.5 MiB
	overSource = 5 << 20         // 5 MiB
)

// badEvents makes n bad events from valid ones (each different, so that
// none is a duplicate of another), cycling through the classes. Without
// big, no event is over the stream's limit; without newlines (for SSE),
// no event holds a line break.
func badEvents(t *testing.T, valid []json.RawMessage, n int, big bool, rng *rand.Rand) []bad {
	t.Helper()
	type mutation struct {
		class string
		make  func(i int, doc map[string]any, raw []byte) bad
	}
	set := func(doc map[string]any, ptr string, v any) {
		parts := strings.Split(ptr[1:], "/")
		m := doc
		for _, p := range parts[:len(parts)-1] {
			m = m[p].(map[string]any)
		}
		m[parts[len(parts)-1]] = v
	}
	enc := func(doc map[string]any) []byte { b, _ := json.Marshal(doc); return b }
	wrongTypes := []struct {
		ptr string
		v   any
	}{{"/bot", "yes"}, {"/namespace", "zero"}, {"/timestamp", "noon"}, {"/meta/domain", 42.0}, {"/length", "long"},
		{"/revision/new", "x"}, {"/minor", 1.0}, {"/title", 123.0}, {"/meta", "m"}, {"/server_url", []any{}}}
	nest := func(depth int) any {
		var v any = "deep"
		for range depth {
			v = []any{v}
		}
		return v
	}
	ms := []mutation{
		{"truncated JSON", func(i int, _ map[string]any, raw []byte) bad {
			at := bytes.Index(raw, []byte(`"bad-`)) + 6 // after the id, so that each is different
			return bad{raw: bytes.Clone(raw[:at+rng.IntN(len(raw)-at-1)]), rules: []string{stream.RuleJSON}}
		}},
		{"wrong type", func(i int, doc map[string]any, _ []byte) bad {
			w := wrongTypes[i%len(wrongTypes)]
			set(doc, w.ptr, w.v)
			return bad{raw: enc(doc), rules: []string{"type"}, pointer: w.ptr}
		}},
		{"missing required field", func(i int, doc map[string]any, _ []byte) bad {
			if i%2 == 0 {
				delete(doc, "meta")
				doc["n"] = i // each different without its id
				return bad{raw: enc(doc), rules: []string{"required"}}
			}
			delete(doc["meta"].(map[string]any), "dt")
			return bad{raw: enc(doc), rules: []string{"required"}}
		}},
		{"not a date-time", func(i int, doc map[string]any, _ []byte) bad {
			set(doc, "/meta/dt", fmt.Sprintf("yesterday %d", i))
			return bad{raw: enc(doc), rules: []string{"format", stream.RuleTime}}
		}},
		{"huge string in the wrong place", func(i int, doc map[string]any, _ []byte) bad {
			set(doc, "/namespace", strings.Repeat("n", 200<<10))
			return bad{raw: enc(doc), rules: []string{"type"}, pointer: "/namespace"}
		}},
		{"deep nesting", func(i int, doc map[string]any, raw []byte) bad {
			if i%2 == 0 { // deeper than any decoder goes
				return bad{raw: fmt.Appendf(nil, `{"n":%d,"x":%s%s}`, i, strings.Repeat("[", 20000), strings.Repeat("]", 20000)), rules: []string{stream.RuleJSON}}
			}
			set(doc, "/meta/domain", nest(500))
			return bad{raw: enc(doc), rules: []string{"type"}, pointer: "/meta/domain"}
		}},
		{"invalid UTF-8", func(i int, _ map[string]any, raw []byte) bad {
			at := bytes.Index(raw, []byte(`"title":"`)) + len(`"title":"`)
			b := slices.Concat(raw[:at], []byte{0xff, 0xfe, byte('a' + i%26)}, raw[at:])
			return bad{raw: b, rules: []string{stream.RuleJSON}}
		}},
		{"not an object", func(i int, _ map[string]any, _ []byte) bad {
			forms := []string{`%d`, `"%d"`, `[%d]`, `[{"meta":{"id":"%d"}}]`, `{"a":%d}1`}
			return bad{raw: fmt.Appendf(nil, forms[i%len(forms)], i), rules: []string{stream.RuleObject, stream.RuleJSON, "required"}}
		}},
	}
	if big {
		ms = append(ms,
			mutation{"event over the stream's 1 MiB", func(i int, doc map[string]any, _ []byte) bad {
				set(doc, "/comment", strings.Repeat("c", overStream))
				return bad{raw: enc(doc), rules: []string{stream.RuleSize}}
			}},
			mutation{"5 MiB event", func(i int, doc map[string]any, _ []byte) bad {
				set(doc, "/comment", strings.Repeat("c", overSource))
				return bad{raw: enc(doc), rules: []string{stream.RuleSize}}
			}})
	}
	out := make([]bad, n)
	for i := range out {
		m := ms[i%len(ms)]
		if big && i%len(ms) >= len(ms)-2 && i >= 2*len(ms) {
			m = ms[i%(len(ms)-2)] // only a couple of the huge ones: they cost memory, not coverage
		}
		raw := valid[i%len(valid)]
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		// each different: a distinct id in every one that has an id
		if meta, ok := doc["meta"].(map[string]any); ok {
			meta["id"] = fmt.Sprintf("bad-%d", i)
		}
		raw, _ = json.Marshal(doc)
		out[i] = m.make(i, doc, raw)
		out[i].class = m.class
	}
	return out
}

// TestBadInput sends 10,000 malformed and schema-invalid events through
// produce (HTTP, NDJSON batches with valid events among them) and 10,000
// through the source (the feed serving them among valid ones): each is
// refused with its reason (produce: the event's index, JSON pointer and
// rule; the source: a dead letter in wikimedia.recentchange.dlq, or, over
// 4 MiB, skipped and counted), none is stored, and the server keeps
// serving valid traffic all along.
func TestBadInput(t *testing.T) {
	n := envInt(t, "SLUICE_BAD_INPUTS", 10000)
	rng := rand.New(rand.NewPCG(1, 2))
	pool := replayEvents(t, recorded(t), 3*n+1000) // fresh ids: valid events for produce, the feed and the bad ones
	validFor := func(from, k int) []json.RawMessage { return pool[from : from+k] }

	// The feed: bad events among valid ones, each once.
	feedBad := badEvents(t, validFor(0, 1000), n, true, rng)
	var feed [][]byte
	var feedValid int
	for i, b := range feedBad {
		feed = append(feed, b.raw)
		if i%10 == 0 {
			feed = append(feed, pool[n+i/10])
			feedValid++
		}
	}
	replay := eventstreams.New(feed, eventstreams.Options{})
	ts := httptest.NewServer(replay)
	t.Cleanup(ts.Close)
	t.Cleanup(replay.Close)
	cfg := projectConfig(t, ts.URL+"/v2/stream/recentchange", "")
	cfg.Limits.MaxInvalidListed = 1000 // batches of 200 bad events: each refusal listed, so each is checked
	node, base := startNode(t, cfg)

	// Valid traffic all along, one event every 20 ms, and health checks.
	var okProduced, okHealth atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 2 * n; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			resp, err := http.Post(base+"/v1/streams/"+input+"/events", "application/json", bytes.NewReader(pool[i]))
			if err == nil {
				if resp.StatusCode == 200 {
					okProduced.Add(1)
				}
				resp.Body.Close()
			}
			if resp, err := http.Get(base + "/healthz"); err == nil {
				if resp.StatusCode == 200 {
					okHealth.Add(1)
				}
				resp.Body.Close()
			}
		}
	}()

	// Produce: NDJSON batches of 200 bad and 5 valid events; events over
	// the limit alone, as the whole request is refused for them.
	began := time.Now()
	prodBad := badEvents(t, validFor(0, 1000), n, true, rng)
	classes := map[string]int{}
	var tooLarge, prodValid int
	for from := 0; from < len(prodBad); from += 200 {
		var body bytes.Buffer
		var batch []int // index in the body -> index in prodBad, -1 for a valid one
		for i := from; i < min(from+200, len(prodBad)); i++ {
			b := prodBad[i]
			classes[b.class]++
			if len(b.raw) > 1<<20 {
				status, ans := produce(t, base, input, "application/json", b.raw)
				if status != http.StatusRequestEntityTooLarge || !bytes.Contains(ans, []byte("limit")) {
					t.Fatalf("%s: %d %s", b.class, status, ans)
				}
				tooLarge++
				continue
			}
			body.Write(b.raw)
			body.WriteByte('\n')
			batch = append(batch, i)
			if i%40 == 0 {
				body.Write(pool[2*n-1-prodValid])
				body.WriteByte('\n')
				batch = append(batch, -1)
				prodValid++
			}
		}
		status, ans := produce(t, base, input, "application/x-ndjson", body.Bytes())
		var res stream.Result
		if err := json.Unmarshal(ans, &res); err != nil || status != http.StatusMultiStatus {
			t.Fatalf("batch at %d: %d %v %.300s", from, status, err, ans)
		}
		checkRefused(t, prodBad, batch, res)
	}
	prodTime := time.Since(began)

	// The source reads the whole feed.
	srcWait := time.Now()
	var st source.StatusView
	waitFor(t, 3*time.Minute, "through the feed", func() bool {
		st, _ = node.Sources.Get(src)
		return st.EventsIn+st.Unreadable >= uint64(len(feed)) // Unreadable ones are not counted in
	})
	srcTime := time.Since(srcWait)
	close(stop)
	wg.Wait()
	var unreadable int
	for _, b := range feedBad {
		if len(b.raw) > 4<<20 {
			unreadable++
		}
	}
	if int(st.DeadLettered) != n-unreadable || int(st.Unreadable) != unreadable || int(st.Stored) != feedValid {
		t.Fatalf("source: %d dead letters, %d unreadable, %d stored; want %d, %d, %d", st.DeadLettered, st.Unreadable, st.Stored, n-unreadable, unreadable, feedValid)
	}
	dead := readStream(t, base, input+".dlq")
	if len(dead) != n-unreadable {
		t.Fatalf("%d dead letters in the stream, want %d", len(dead), n-unreadable)
	}
	for i, raw := range dead {
		var dl stream.DeadLetter
		if err := json.Unmarshal(raw, &dl); err != nil || len(dl.Errors) == 0 || dl.Errors[0].Keyword == "" || dl.Errors[0].Message == "" || dl.Source != src {
			t.Fatalf("dead letter %d: %v %.300s", i, err, raw)
		}
	}
	// Stored: the valid events only.
	stored := readStream(t, base, input)
	if want := feedValid + prodValid + int(okProduced.Load()); len(stored) != want {
		t.Fatalf("%d events stored, want %d valid ones", len(stored), want)
	}
	for _, raw := range stored {
		if strings.HasPrefix(metaID(t, raw), "bad-") {
			t.Fatalf("a bad event was stored: %.200s", raw)
		}
	}
	if okProduced.Load() == 0 || okHealth.Load() == 0 {
		t.Fatal("no valid traffic served meanwhile")
	}
	t.Logf("produce: %d bad events refused with index, pointer and rule in %v (%d of them over 1 MiB, refused with 413) %v, %d valid ones among them stored",
		n, prodTime.Round(time.Millisecond), tooLarge, classes, prodValid)
	t.Logf("source: %d bad events among %d valid: %d dead letters with their errors, %d over 4 MiB skipped and counted (%v after produce); "+
		"meanwhile %d valid produce calls and %d health checks answered 200",
		n, feedValid, st.DeadLettered, st.Unreadable, srcTime.Round(time.Millisecond), okProduced.Load(), okHealth.Load())
}

// checkRefused checks a produce answer: every bad event of the batch is
// refused with a rule it may be refused for, every valid one stored.
func checkRefused(t *testing.T, bads []bad, batch []int, res stream.Result) {
	t.Helper()
	invalid := map[int]stream.Invalid{}
	for _, inv := range res.Invalid {
		invalid[inv.Index] = inv
	}
	accepted := map[int]bool{}
	for _, w := range res.Events {
		accepted[w.Index] = !w.Duplicate
	}
	for j, i := range batch {
		if i < 0 {
			if !accepted[j] {
				t.Fatalf("a valid event (index %d) was not stored", j)
			}
			continue
		}
		b := bads[i]
		inv, ok := invalid[j]
		if !ok {
			t.Fatalf("%s (index %d) was accepted: %.200s", b.class, j, b.raw)
		}
		e := inv.Errors[0]
		if !slices.Contains(b.rules, e.Keyword) || e.Message == "" || (b.pointer != "" && e.Pointer != b.pointer) {
			t.Fatalf("%s (index %d): refused for %+v, want %v at %q", b.class, j, e, b.rules, b.pointer)
		}
	}
}
