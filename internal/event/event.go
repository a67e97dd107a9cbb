package event

import "time"

// Event is one stored event as read back from a stream.
type Event struct {
	Seq  uint64    // the stream's own sequence, 1, 2, 3, ...
	ID   string    // the value at the stream's id pointer, used for de-duplication
	Time time.Time // the value at the stream's time pointer
	Key  string    // the values at the stream's key pointers, joined by "/"; "" without a key
	Data []byte    // the event JSON, compact, on one line
	// Origin and Position name the source or pipeline that wrote the event
	// and its own position then; both "" for plain producers.
	Origin   string
	Position string
	// Foreign marks a message sluice did not write (published straight to
	// the stream's NATS subject): only Seq and Data, its raw payload, are
	// to be trusted; the other fields are whatever headers it came with.
	Foreign bool
}
