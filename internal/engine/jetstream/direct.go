package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-dev/sluice/internal/engine"
)

// direct makes the server's direct get requests ($JS.API.DIRECT.GET) and
// reads their replies, one message or a batch. nats.go has no batch direct
// get, and Synadia's orbit.go jetstreamext.GetBatch ends a batch quietly on
// a timeout or a cancelled context, which a reader cannot tell from the end
// of the stream. Every reply comes to one wildcard subscription, so a
// request costs one publish and no subscription of its own (subscribing
// per request tripled the time of a one-message read).
type direct struct {
	nc     *nats.Conn
	prefix string // reply subjects are prefix + a token
	sub    *nats.Subscription

	mu    sync.Mutex
	n     uint64
	calls map[string]chan *nats.Msg
}

// directGets is what the engine asks of direct gets.
type directGets interface {
	batch(ctx context.Context, stream string, seq uint64, n, maxBytes int) (engine.Batch, error)
	last(ctx context.Context, stream, subject string) (engine.Stored, error)
}

func newDirect(nc *nats.Conn) (*direct, error) {
	d := &direct{nc: nc, prefix: nc.NewInbox() + ".", calls: map[string]chan *nats.Msg{}}
	sub, err := nc.Subscribe(d.prefix+"*", d.deliver)
	if err != nil {
		return nil, fmt.Errorf("subscribe to direct get replies: %w", err)
	}
	// Replies wait here only as long as deliver takes to hand them on; the
	// calls' own buffers bound what is held, so no slow-consumer drops.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, err
	}
	d.sub = sub
	return d, nil
}

// deliver hands a reply to its call; never blocks (a call's buffer holds
// every reply its request can get). Replies of abandoned calls are dropped.
func (d *direct) deliver(m *nats.Msg) {
	d.mu.Lock()
	ch := d.calls[m.Subject[len(d.prefix):]]
	d.mu.Unlock()
	if ch != nil {
		select {
		case ch <- m:
		default:
		}
	}
}

// directTimeout bounds a request without a deadline of its own: a direct
// get answers in microseconds, so silence means the server is gone.
const directTimeout = 10 * time.Second

// Headers the server adds to each message of a direct get reply. It
// appends them after the message's own headers, so a message stored with
// forged ones (published straight to the subject) has the server's last.
const (
	hdrStream    = "Nats-Stream"
	hdrSequence  = "Nats-Sequence"
	hdrTimeStamp = "Nats-Time-Stamp"
	hdrPending   = "Nats-Num-Pending"
	hdrLastSeq   = "Nats-Last-Sequence"
	hdrStatus    = "Status"
)

// batch asks for up to n messages at or after seq, at most maxBytes after the first.
func (d *direct) batch(ctx context.Context, stream string, seq uint64, n, maxBytes int) (engine.Batch, error) {
	req := fmt.Appendf(nil, `{"seq":%d,"batch":%d,"max_bytes":%d}`, max(seq, 1), max(n, 1), max(maxBytes, 1))
	return d.call(ctx, stream, req, max(n, 1)+2, true)
}

// last gets the last message of a subject.
func (d *direct) last(ctx context.Context, stream, subject string) (engine.Stored, error) {
	b, err := d.call(ctx, stream, fmt.Appendf(nil, `{"last_by_subj":%q}`, subject), 2, false)
	if err != nil {
		return engine.Stored{}, err
	}
	if len(b.Msgs) == 0 || b.Msgs[0].Seq == 0 {
		return engine.Stored{}, fmt.Errorf("%w: no message on %s", engine.ErrNotFound, subject)
	}
	return b.Msgs[0], nil
}

func (d *direct) call(ctx context.Context, stream string, req []byte, buffer int, isBatch bool) (engine.Batch, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, directTimeout)
		defer cancel()
	}
	ch := make(chan *nats.Msg, buffer)
	d.mu.Lock()
	d.n++
	token := strconv.FormatUint(d.n, 36)
	d.calls[token] = ch
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.calls, token)
		d.mu.Unlock()
	}()
	if err := d.nc.PublishRequest("$JS.API.DIRECT.GET."+stream, d.prefix+token, req); err != nil {
		return engine.Batch{}, mapErr(err)
	}
	var out engine.Batch
	for {
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-ctx.Done():
			return engine.Batch{}, ctx.Err()
		}
		if len(m.Header[hdrStream]) == 0 && len(m.Header[hdrStatus]) > 0 {
			// A reply of the server's own: the end of a batch, or why there is none.
			switch code := m.Header.Get(hdrStatus); code {
			case "204": // end of batch
				place(&out, m.Header.Get(hdrLastSeq))
				out.Pending, _ = strconv.ParseUint(m.Header.Get(hdrPending), 10, 64)
				return out, nil
			case "404":
				place(&out, "")
				return out, nil
			case "503":
				// Nobody answers for the stream now (JetStream restarting, no
				// leader): not "nothing there", which callers act on (a source
				// would resume from its start).
				return engine.Batch{}, fmt.Errorf("%w: direct get from %s: no responders", engine.ErrUnavailable, stream)
			default:
				return engine.Batch{}, fmt.Errorf("direct get from %s: status %s %s", stream, code, m.Header.Get("Description"))
			}
		}
		s, err := storedOf(m)
		if err != nil {
			return engine.Batch{}, fmt.Errorf("direct get from %s: %w", stream, err)
		}
		if n := len(out.Msgs); s.Seq == 0 && n > 0 && out.Msgs[n-1].Seq == 0 {
			out.Msgs[n-1] = s // two such in a row: only the second can be placed
			continue
		}
		if isBatch && s.Seq != 0 {
			place(&out, lastOf(m.Header, hdrLastSeq))
		}
		out.Msgs = append(out.Msgs, s)
		if !isBatch {
			return out, nil
		}
	}
}

// place gives its sequence to a message that came without headers (the
// client could not decode the ones it was stored with): each message of a
// batch, and the end of the batch, names the sequence of the message sent
// before it. One that cannot be placed is left out.
func place(b *engine.Batch, before string) {
	n := len(b.Msgs)
	if n == 0 || b.Msgs[n-1].Seq != 0 {
		return
	}
	if seq, _ := strconv.ParseUint(before, 10, 64); seq > 0 && (n == 1 || seq > b.Msgs[n-2].Seq) {
		b.Msgs[n-1].Seq = seq
		return
	}
	b.Msgs = b.Msgs[:n-1]
}

// storedOf reads a message of a direct get reply. One without headers
// (the client could not decode them) has sequence 0: the caller places it.
func storedOf(m *nats.Msg) (engine.Stored, error) {
	if len(m.Header) == 0 {
		return engine.Stored{Data: m.Data}, nil
	}
	seq, err := strconv.ParseUint(lastOf(m.Header, hdrSequence), 10, 64)
	if err != nil {
		return engine.Stored{}, errors.New("reply without a sequence")
	}
	ts, err := time.Parse(time.RFC3339Nano, lastOf(m.Header, hdrTimeStamp))
	if err != nil {
		return engine.Stored{}, fmt.Errorf("message %d: time stamp: %w", seq, err)
	}
	return engine.Stored{Seq: seq, Header: flatten(m.Header), Data: m.Data, Arrived: ts}, nil
}

func lastOf(h nats.Header, key string) string {
	v := h[key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}
