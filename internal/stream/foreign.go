package stream

import (
	"bytes"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
)

// Foreign reports whether a stored message was not written by sluice:
// with the engine's port open (nats.listen), anyone can publish straight
// to a stream's subject, past the schema. Sluice's own messages carry an
// id, an event time and a time mark (numbers) and one line of data;
// anything else is foreign. Readers skip foreign messages (or flag them,
// on request) and time seeks step over them. A message that copies
// sluice's headers exactly cannot be told apart: closing the port is the
// defence there.
func Foreign(m engine.Stored) bool {
	_, ok := markOf(m)
	return !ok
}

// markOf is a message's time mark, and whether the message is sluice's own.
func markOf(m engine.Stored) (int64, bool) {
	if m.Header[hdrID] == "" || len(m.Data) == 0 || bytes.ContainsAny(m.Data, "\r\n") {
		return 0, false
	}
	if _, err := strconv.ParseInt(m.Header[hdrTime], 10, 64); err != nil {
		return 0, false
	}
	mk, err := strconv.ParseInt(m.Header[hdrMark], 10, 64)
	return mk, err == nil
}

// item is a message as readers use it: the event, its time mark and its
// size in memory (for the byte bounds of the tail).
type item struct {
	ev   event.Event
	mark int64
	size int64
}

// itemOverhead is what an item costs beside its data and headers (the
// event's fields and the tail's slot), so that small events count too.
const itemOverhead = 256

func itemOf(m engine.Stored) item {
	it := item{size: int64(len(m.Data)) + itemOverhead}
	for k, v := range m.Header {
		it.size += int64(len(k) + len(v))
	}
	mk, own := markOf(m)
	it.mark, it.ev = mk, eventOf(m, !own)
	return it
}

func toEvent(m engine.Stored) event.Event { return eventOf(m, Foreign(m)) }

// eventOf reads the headers whatever they are (a foreign message may have
// some), so callers that do not look at Foreign see what was stored.
func eventOf(m engine.Stored, foreign bool) event.Event {
	e := event.Event{Seq: m.Seq, ID: m.Header[hdrID], Key: m.Header[hdrKey], Data: m.Data,
		Origin: m.Header[hdrOrigin], Position: m.Header[hdrPosition], Foreign: foreign}
	if n, err := strconv.ParseInt(m.Header[hdrTime], 10, 64); err == nil {
		e.Time = time.Unix(0, n).UTC()
	}
	return e
}
