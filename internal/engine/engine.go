// Package engine defines what sluice needs from its log engine: durable,
// replayable, de-duplicating streams and a small key/value store for the
// catalog. The only implementation is NATS JetStream (package
// engine/jetstream), embedded or external; enginetest holds the conformance
// suite every implementation passes.
package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors, wrapped by implementations.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrConflict = errors.New("changed concurrently")
	ErrClosed   = errors.New("engine closed")
	// ErrUnavailable is an engine that does not answer for a while (e.g.
	// JetStream restarting, NATS unreachable, a stream without a leader):
	// try again later; never read it as "not there". It clears by itself.
	ErrUnavailable = errors.New("engine unavailable")
	// ErrNoLeader is a replicated stream that has no leader able to store
	// now: its cluster is electing one, or too few of the stream's servers
	// are up for a quorum. It is ErrUnavailable too.
	ErrNoLeader = fmt.Errorf("%w: the stream has no leader", ErrUnavailable)
	// ErrUnsupported is a request this engine cannot do as it is set up
	// (e.g. 3 replicas of a stream on a single server): the request's
	// fault here, not the engine's.
	ErrUnsupported = errors.New("not supported by this engine")
)

// StreamConfig is what the engine keeps about a stream.
type StreamConfig struct {
	Name            string        // sluice stream name, [a-z0-9][a-z0-9._-]{0,127}
	MaxAge          time.Duration // 0: keep forever
	MaxBytes        int64         // 0: no limit
	DuplicateWindow time.Duration // how long an id is remembered for de-duplication
	Replicas        int           // copies in a cluster; 0: the engine's default
}

// StreamState is a stream's size and extent, and where its copies are.
type StreamState struct {
	Messages uint64
	Bytes    uint64
	FirstSeq uint64 // 0 when empty
	LastSeq  uint64 // 0 when nothing was ever appended

	// Replicas is the number of copies the engine keeps (1 on a single server).
	Replicas int
	// Leader names the server that stores the stream's appends first; ""
	// when it has none now, or when the engine is one server, not a cluster.
	Leader string
	// Followers are the other copies as the leader sees them (none for
	// one copy, nor while there is no leader).
	Followers []Follower
}

// Follower is a copy of a stream that is not its leader.
type Follower struct {
	Name    string        // its server
	Current bool          // it has everything the leader stored
	Offline bool          // the leader does not hear from it
	Lag     uint64        // operations it is behind the leader
	Active  time.Duration // since the leader last heard from it
}

// Msg is a message to append.
type Msg struct {
	ID string // de-duplication id: a second Msg with the same ID within the window is not stored
	// Origin names who appended it ("" for plain producers; a source's name,
	// [a-z0-9_-]); the engine finds the last message of an origin in O(1).
	Origin string
	Header map[string]string // small metadata stored with the message
	Data   []byte
}

// Stored is a message read back.
type Stored struct {
	Seq     uint64
	Header  map[string]string
	Data    []byte
	Arrived time.Time // when the engine stored it
}

// Batch is what one Range call returns.
type Batch struct {
	Msgs []Stored
	// Pending counts the messages stored after the last of Msgs when the
	// batch was read: 0 means Msgs reached the end of the stream.
	Pending uint64
}

// Appended tells where an appended message is.
type Appended struct {
	Seq       uint64 // its sequence; for a duplicate, the sequence of the stored original
	Duplicate bool
}

// Engine is the log engine. All methods are safe for concurrent use.
//
// On a replicated stream or bucket (a NATS cluster) a read may be served
// by any replica, and a replica applies a write a moment after the leader
// answered it: a read right after a write (Get, Range, Scan, Follow, a
// KV's Get, Keys or Watch) may not see it yet. On one server, and for the
// answers of the writes themselves, there is no such moment.
type Engine interface {
	// EnsureStream creates the stream or updates its limits; it is idempotent.
	EnsureStream(ctx context.Context, cfg StreamConfig) error
	// DeleteStream removes the stream and every message in it.
	DeleteStream(ctx context.Context, name string) error
	// State reports a stream's size and extent.
	State(ctx context.Context, name string) (StreamState, error)

	// Publish sends msgs in order and returns at once; Pending.Wait returns
	// when every message is durably stored, or with an error: a
	// *PartialError lists the messages stored, any other error means none
	// was (except when ctx ended: then it is not known). Out of space is
	// ErrNoSpace (a *SpaceError), returned at once, never waited out. A
	// stream that stays without a leader, or an engine that stays out of
	// reach, for a while (the implementation's patience) is ErrNoLeader or
	// ErrUnavailable; the messages it does not list as stored may then
	// have been stored (an answer was lost): sending them again with the
	// same IDs is safe. An engine known to be out of reach fails Publish
	// at once.
	Publish(ctx context.Context, stream string, msgs []Msg) (Pending, error)
	// Get returns the first message whose sequence is at or after seq,
	// ErrNotFound when there is none.
	Get(ctx context.Context, stream string, seq uint64) (Stored, error)
	// LastOf returns the last message appended with this origin, ErrNotFound if none.
	LastOf(ctx context.Context, stream, origin string) (Stored, error)
	// Range returns the messages at or after sequence from, in order: at
	// most max of them, and none more once their size reaches maxBytes (but
	// always the first, whatever its size). An empty batch means nothing is
	// stored at or after from. It is one request: nothing stays on the
	// server after it, so any number of reads cost the stream nothing.
	Range(ctx context.Context, stream string, from uint64, max, maxBytes int) (Batch, error)
	// Scan reads the messages in [from, to) in order, then io.EOF: when a
	// message at or after to comes, or none is left in the stream. It
	// holds a consumer on the server until Close, which removes it at
	// once; it reads long ranges several times as fast as Range does.
	Scan(ctx context.Context, stream string, from, to uint64) (Reader, error)
	// Follow delivers messages in order from sequence from, following new
	// ones as they arrive, until the Reader is closed. It holds a consumer
	// on the server until Close, which removes it at once: share one per
	// stream (package stream's tail does) rather than one per reader.
	Follow(ctx context.Context, stream string, from uint64) (Reader, error)

	// KV opens (creating if needed) a key/value bucket.
	KV(ctx context.Context, bucket string) (KV, error)
	// Ready reports whether the engine can serve requests, and if not why
	// (ErrUnavailable when it is out of reach).
	Ready(ctx context.Context) error
	// Close releases every resource; an embedded server flushes and stops.
	Close() error
}

// Pending is a publish in flight.
type Pending interface {
	Wait(ctx context.Context) ([]Appended, error)
}

// Reader follows a stream in order.
type Reader interface {
	// Next blocks until the next message arrives or ctx ends.
	Next(ctx context.Context) (Stored, error)
	Close()
}

// KV is a key/value bucket with optimistic concurrency.
type KV interface {
	Get(ctx context.Context, key string) (value []byte, revision uint64, err error)
	// Create stores a new key; ErrExists if it is there.
	Create(ctx context.Context, key string, value []byte) (uint64, error)
	// Update replaces a key's value if its revision is still rev; ErrConflict otherwise.
	Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error)
	Delete(ctx context.Context, key string) error
	// Keys lists the keys that start with prefix, sorted.
	Keys(ctx context.Context, prefix string) ([]string, error)
	// Watch sends the current value of every key that starts with prefix,
	// then a change with CaughtUp set, then every later change, until ctx
	// ends (the channel is then closed). A slow reader holds the engine's
	// delivery back, it loses nothing.
	Watch(ctx context.Context, prefix string) (<-chan KVChange, error)
}

// ExpiringKVs is implemented by engines whose buckets can forget a key
// that is not written for a while: leases and registrations that end by
// themselves when their writer dies.
type ExpiringKVs interface {
	// ExpiringKV opens (creating if needed) a bucket whose keys vanish ttl
	// after their last write (a Create or an Update).
	ExpiringKV(ctx context.Context, bucket string, ttl time.Duration) (ExpiringKV, error)
}

// ExpiringKV is a bucket of ExpiringKVs.
type ExpiringKV interface {
	KV
	// DeleteIf deletes key if its revision is still rev; ErrConflict
	// otherwise (another writer changed it, or it expired).
	DeleteIf(ctx context.Context, key string, rev uint64) error
}

// KVChange is one key's new value, or its deletion.
type KVChange struct {
	Key      string
	Value    []byte
	Revision uint64
	Deleted  bool
	// CaughtUp marks the end of the values current when the watch began
	// (Key is empty then).
	CaughtUp bool
}

// Append publishes msgs and waits until they are stored.
func Append(ctx context.Context, e Engine, stream string, msgs []Msg) ([]Appended, error) {
	p, err := e.Publish(ctx, stream, msgs)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// ConsumerConfig describes a durable, acknowledged reader of a stream.
type ConsumerConfig struct {
	Stream string
	Name   string // [a-z0-9_-]; unique per stream
	// StartSeq is where a new consumer starts (an existing one keeps its place).
	StartSeq uint64
	// MaxAckPending bounds the messages delivered and not yet acknowledged.
	MaxAckPending int
	// AckWait is how long a delivery may stay unacknowledged before it is redelivered.
	AckWait time.Duration
	// AckAll makes acknowledging a delivery acknowledge every earlier one
	// too (one acknowledgement per batch instead of one per message).
	AckAll bool
}

// ConsumerState is where a consumer is.
type ConsumerState struct {
	AckFloor  uint64 // every message up to this stream sequence is acknowledged
	Pending   uint64 // messages in the stream not yet delivered
	InFlight  uint64 // delivered, not yet acknowledged
	Delivered uint64 // the last stream sequence delivered
}

// Delivery is a message delivered to a consumer.
type Delivery struct {
	Stored
	Attempt int // 1 for the first delivery
	ack     func(ctx context.Context) error
}

// NewDelivery is for engine implementations.
func NewDelivery(s Stored, attempt int, ack func(ctx context.Context) error) Delivery {
	return Delivery{Stored: s, Attempt: attempt, ack: ack}
}

// Ack confirms the delivery was handled; it waits for the engine to record it.
func (d Delivery) Ack(ctx context.Context) error { return d.ack(ctx) }

// Consumer is a durable reader whose position the engine keeps.
type Consumer interface {
	// Fetch returns up to max deliveries, waiting at most wait for the first.
	Fetch(ctx context.Context, max int, wait time.Duration) ([]Delivery, error)
	State(ctx context.Context) (ConsumerState, error)
}

// Consumers is implemented by engines with durable consumers.
type Consumers interface {
	// EnsureConsumer opens a consumer, creating it at cfg.StartSeq if it does not exist.
	EnsureConsumer(ctx context.Context, cfg ConsumerConfig) (Consumer, error)
	DeleteConsumer(ctx context.Context, stream, name string) error
	// DeleteMsg removes one message (e.g. a dead letter that was redriven).
	// On a replicated stream a read that starts right after may still see
	// it for a moment: the replicas it may read from (a direct get, a
	// scan's consumer) apply the delete a little after the leader answered.
	DeleteMsg(ctx context.Context, stream string, seq uint64) error
}

// Put stores value under key whatever is there, with optimistic retries.
func Put(ctx context.Context, kv KV, key string, value []byte) error {
	for attempt := 0; ; attempt++ {
		_, rev, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, ErrNotFound):
			_, err = kv.Create(ctx, key, value)
		case err == nil:
			_, err = kv.Update(ctx, key, value, rev)
		}
		if (errors.Is(err, ErrExists) || errors.Is(err, ErrConflict)) && attempt < 10 {
			continue
		}
		return err
	}
}
