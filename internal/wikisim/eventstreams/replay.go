package eventstreams

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// span is the [start, end) byte range of a JSON value inside an event.
type span struct{ start, end int }

func (s span) ok() bool { return s.end > s.start }

// recorded is one loaded event and what a loop rewrites in it.
type recorded struct {
	data               []byte
	ms                 int64  // event time: meta.dt, else timestamp (seconds), else 0
	dtOK               bool   // meta.dt parsed: it is rewritten in loops
	ts                 int64  // the top-level "timestamp" (unix seconds)
	id                 string // meta.id
	stream             string // meta.stream
	dt, idSpan, tsSpan span
}

func prepare(b []byte) recorded {
	e := recorded{data: oneLine(b)}
	members(e.data, 0, func(key string, sp span, raw []byte) {
		switch key {
		case "timestamp":
			if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
				e.ts, e.tsSpan = n, sp
			}
		case "meta":
			if len(raw) == 0 || raw[0] != '{' {
				return
			}
			members(raw, sp.start, func(key string, sp span, raw []byte) {
				var s string
				if json.Unmarshal(raw, &s) != nil {
					return
				}
				switch key {
				case "dt":
					if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
						e.ms, e.dtOK, e.dt = t.UnixMilli(), true, sp
					}
				case "id":
					e.id, e.idSpan = s, sp
				case "stream":
					e.stream = s
				}
			})
		}
	})
	if !e.dtOK && e.tsSpan.ok() {
		e.ms = e.ts * 1000
	}
	return e
}

// members calls fn for each member of the JSON object b with the span of its
// value (offset by base) and the value's bytes. It stops at the first error.
func members(b []byte, base int, fn func(key string, sp span, raw []byte)) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return
	}
	for dec.More() {
		t, err := dec.Token()
		key, isKey := t.(string)
		if err != nil || !isKey {
			return
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return
		}
		end := int(dec.InputOffset())
		fn(key, span{base + end - len(raw), base + end}, raw)
	}
}

// render appends event i of loop k to buf: loop 0 is the recording as is;
// later loops shift meta.dt and timestamp forward by k*shift and give each
// event a new meta.id.
func (e *recorded) render(buf []byte, k, shiftMs int64) []byte {
	if k == 0 {
		return append(buf, e.data...)
	}
	return e.rewrite(buf, k, e.ms+k*shiftMs, e.ts+k*shiftMs/1000)
}

// renderAt appends event i of loop k to buf with meta.dt at ms and
// timestamp at ms/1000, and, in loops after the first, a new meta.id.
func (e *recorded) renderAt(buf []byte, k, ms int64) []byte {
	return e.rewrite(buf, k, ms, ms/1000)
}

// rewrite appends the event with meta.dt at dtMs, timestamp at ts and, if
// k > 0, the meta.id of loop k.
func (e *recorded) rewrite(buf []byte, k, dtMs, ts int64) []byte {
	type edit struct {
		sp  span
		val []byte
	}
	var edits [3]edit
	n := 0
	if e.dtOK {
		t := time.UnixMilli(dtMs).UTC()
		edits[n] = edit{e.dt, strconv.AppendQuote(nil, t.Format(time.RFC3339Nano))}
		n++
	}
	if e.tsSpan.ok() {
		edits[n] = edit{e.tsSpan, strconv.AppendInt(nil, ts, 10)}
		n++
	}
	if e.idSpan.ok() && k > 0 {
		edits[n] = edit{e.idSpan, strconv.AppendQuote(nil, loopID(e.id, k))}
		n++
	}
	es := edits[:n]
	slices.SortFunc(es, func(a, b edit) int { return a.sp.start - b.sp.start })
	at := 0
	for _, ed := range es {
		buf = append(buf, e.data[at:ed.sp.start]...)
		buf = append(buf, ed.val...)
		at = ed.sp.end
	}
	return append(buf, e.data[at:]...)
}

// loopID derives a UUID (version 5: SHA-1 of a name) from an event's
// original id and the loop number, so every looped event is unique and the
// same on every run.
func loopID(id string, k int64) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(id+"\x00loop "+strconv.FormatInt(k, 10))).String()
}

// loopShift is how far each loop moves event times forward: the span of the
// recording's times rounded up to whole seconds, plus one second, so every
// event of loop k+1 is later than every event of loop k.
func loopShift(evs []recorded) int64 {
	if len(evs) == 0 {
		return 1000
	}
	lo, hi := evs[0].ms, evs[0].ms
	for _, e := range evs[1:] {
		lo, hi = min(lo, e.ms), max(hi, e.ms)
	}
	return (hi-lo+999)/1000*1000 + 1000
}

// timeOf is the event time of replay offset n.
func (s *Server) timeOf(n int64) int64 {
	if s.opts.Clock != nil {
		return s.opts.Clock(n).UnixMilli()
	}
	l := int64(len(s.evs))
	return s.evs[n%l].ms + n/l*s.shiftMs
}

// seekTime returns the offset of the first event (in replay order) whose time
// is at or after ms; without Loop, the end of the recording if none is.
func (s *Server) seekTime(ms int64) int64 {
	l := int64(len(s.evs))
	if l == 0 {
		return 0
	}
	if s.opts.Clock != nil {
		return s.seekClock(ms)
	}
	var k int64
	if s.opts.Loop && ms > s.maxMs {
		k = (ms - s.maxMs + s.shiftMs - 1) / s.shiftMs
	}
	for i := range l {
		if s.evs[i].ms+k*s.shiftMs >= ms {
			return k*l + i
		}
	}
	return l // only without Loop: nothing that late
}

// seekClock is seekTime under Options.Clock, which does not decrease: a
// binary search, over the recording or, with Loop, as far as it takes.
func (s *Server) seekClock(ms int64) int64 {
	hi := int64(len(s.evs))
	for s.opts.Loop && hi < 1<<50 && s.timeOf(hi-1) < ms {
		hi *= 2
	}
	lo := int64(0)
	for lo < hi {
		mid := lo + (hi-lo)/2
		if s.timeOf(mid) < ms {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
