package eventsource

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// EventStreams ids are Kafka positions, one entry per topic-partition:
// either an offset (exact: the feed continues after it) or a timestamp,
// which is the message's time + 1 ms and makes the feed start at the first
// message of the partition whose time is at or after it. Several events
// share a millisecond, and so an id: resuming with the id as given skips
// the events of that millisecond that came after the last one seen. So the
// feed is asked for one millisecond earlier, the time of the last event
// itself; the first message at or after that time is at or before the last
// event in the partition (whatever the order of times in it), so nothing
// after it is lost. What comes again, up to the last event, is skipped
// here, by its bytes.

// tp names a topic-partition.
type tp struct {
	topic     string
	partition int64
}

// idEntry is one entry of an EventStreams id; other fields are kept as they are.
type idEntry map[string]json.RawMessage

func (e idEntry) key() (tp, bool) {
	var k tp
	if json.Unmarshal(e["topic"], &k.topic) != nil || json.Unmarshal(e["partition"], &k.partition) != nil {
		return tp{}, false
	}
	return k, true
}

func (e idEntry) timestamp() (int64, bool) {
	raw, ok := e["timestamp"]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	return n, err == nil
}

func parseID(id string) ([]idEntry, bool) {
	var es []idEntry
	if json.Unmarshal([]byte(id), &es) != nil {
		return nil, false
	}
	return es, true
}

// resumeFrom is where a reconnect asks the feed to start: the id to send
// as Last-Event-ID and, for the timestamp entries moved back, the bound up
// to which what comes again may already have been read.
type resumeFrom struct {
	header string
	bound  map[tp]int64 // the timestamps of the id as it was; nil: exact, nothing comes again
}

// earlier moves every timestamp entry of id back by a millisecond. An id
// that is not in EventStreams' form, or has only offsets, is sent as is.
func earlier(id string) resumeFrom {
	es, ok := parseID(id)
	if !ok {
		return resumeFrom{header: id}
	}
	bound := map[tp]int64{}
	for _, e := range es {
		k, ok := e.key()
		ts, ok2 := e.timestamp()
		if !ok || !ok2 || ts <= 0 {
			continue
		}
		bound[k] = ts
		e["timestamp"] = json.RawMessage(strconv.FormatInt(ts-1, 10))
	}
	if len(bound) == 0 {
		return resumeFrom{header: id}
	}
	b, err := json.Marshal(es)
	if err != nil {
		return resumeFrom{header: id}
	}
	return resumeFrom{header: string(b), bound: bound}
}

// again reports whether an event with this id may be one read before the
// resume: each of its timestamps, on a partition of the bound, is within it.
func (r resumeFrom) again(id string) bool {
	if r.bound == nil {
		return false
	}
	es, ok := parseID(id)
	if !ok {
		return false
	}
	compared := false
	for _, e := range es {
		k, ok := e.key()
		ts, ok2 := e.timestamp()
		b, ok3 := r.bound[k]
		if !ok || !ok2 || !ok3 {
			continue
		}
		if ts > b {
			return false
		}
		compared = true
	}
	return compared
}

// Bounds of what is held back while looking for the last event read.
const (
	maxHeld      = 10000
	maxHeldBytes = 16 << 20
)

// overlap drops what a feed sends again after resuming a millisecond early:
// the events up to the last one read before (found by its bytes). Until it
// is found they are held back; if the events move past the bound without
// it, everything held is delivered after all (the stream's de-duplication
// by id then drops what it had), so an event is never lost to a guess.
type overlap struct {
	from    resumeFrom
	last    []byte // the data of the last event read; nil: unknown
	held    [][2]string
	bytes   int
	done    bool
	skipped int // events dropped as read before
}

// With timestamps for more than one partition (both datacenters active),
// the feed interleaves the partitions as it likes, so the last event read,
// of one partition, does not tell which events of the others came before
// it: nothing is skipped then, and the stream's de-duplication by id drops
// what it had.
func newOverlap(from resumeFrom, last []byte) *overlap {
	return &overlap{from: from, last: last, done: len(from.bound) != 1 || last == nil}
}

// next takes an event (id, data) and returns what to deliver now, in order.
func (o *overlap) next(id string, data []byte) [][2]string {
	ev := [2]string{id, string(data)}
	if o.done {
		return [][2]string{ev}
	}
	if !o.from.again(id) {
		o.done = true // past the bound and the last event not found: deliver all
		out := append(o.held, ev)
		o.held = nil
		return out
	}
	if sameEvent(data, o.last) {
		o.done = true
		o.skipped += len(o.held) + 1
		o.held = nil
		return nil
	}
	o.held = append(o.held, ev)
	o.bytes += len(data)
	if len(o.held) > maxHeld || o.bytes > maxHeldBytes {
		o.done = true
		out := o.held
		o.held = nil
		return out
	}
	return nil
}

// sameEvent compares an event as the feed sends it with one as it was
// stored: streams store events on one line, so a multi-line event is
// compared compacted too.
func sameEvent(data, stored []byte) bool {
	if bytes.Equal(data, stored) {
		return true
	}
	if !bytes.ContainsAny(data, "\r\n") {
		return false
	}
	var buf bytes.Buffer
	return json.Compact(&buf, data) == nil && bytes.Equal(buf.Bytes(), stored)
}
