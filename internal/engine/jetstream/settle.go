package jetstream

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/engine"
)

// settle waits for the futures of the messages idx (futs[k] is idx[k]'s)
// and records each answer in out or refused; it returns the messages whose
// fate is still unknown.
//
// When the store has failed for lack of space (see guard), messages it did
// not store get no answer at all. So settle then sends a barrier: a message
// the stream answers at once and never stores. A stream handles the
// messages of one connection in order and answers them in order, so once
// the barrier's answer is in, any message still unanswered was not stored.
func (p *pending) settle(ctx context.Context, idx []int, futs []jetstream.PubAckFuture, out []engine.Appended, refused map[int]error) ([]int, error) {
	var unknown []int
	record := func(k int, ack *jetstream.PubAck, err error) {
		i := idx[k]
		if err == nil || !transient(err) {
			p.watch.answered()
		}
		switch {
		case err == nil:
			out[i] = engine.Appended{Seq: ack.Sequence, Duplicate: ack.Duplicate}
		case transient(err):
			unknown = append(unknown, i)
		default:
			refused[i] = p.e.refusal(err)
		}
	}
	full, changed := p.e.guard.state()
	var barrier jetstream.PubAckFuture
	var again <-chan time.Time // when to send a barrier that was not answered again
	send := func() {
		if full != nil && barrier == nil {
			barrier, _ = p.e.js.PublishMsgAsync(barrierMsg(p.stream), jetstream.WithRetryAttempts(0))
			if barrier == nil {
				again = time.After(100 * time.Millisecond)
			}
		}
	}
	send()
	for k := 0; k < len(futs); {
		okc, errc := barrierChans(barrier)
		select {
		case ack := <-futs[k].Ok():
			record(k, ack, nil)
			k++
		case err := <-futs[k].Err():
			record(k, nil, err)
			k++
		case <-changed:
			var now *engine.SpaceError
			now, changed = p.e.guard.state()
			if now != nil { // kept when space returns: it is why messages unanswered now were not stored
				full = now
			}
			send()
		case <-again:
			again = nil
			send()
		case <-okc:
			p.fence(futs[k:], func(j int, ack *jetstream.PubAck, err error) { record(k+j, ack, err) }, full)
			return unknown, nil
		case err := <-errc:
			if !transient(err) { // answered by the stream, in order
				p.fence(futs[k:], func(j int, ack *jetstream.PubAck, err error) { record(k+j, ack, err) }, full)
				return unknown, nil
			}
			barrier, again = nil, time.After(100*time.Millisecond)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return unknown, nil
}

// fence records futs after the barrier was answered: an answer that came
// is in already; no answer means the stream did not store the message.
func (p *pending) fence(futs []jetstream.PubAckFuture, record func(int, *jetstream.PubAck, error), full *engine.SpaceError) {
	for k, f := range futs {
		select {
		case ack := <-f.Ok():
			record(k, ack, nil)
		case err := <-f.Err():
			record(k, nil, err)
		default:
			var why error = full
			if full == nil {
				why = errors.New("the stream did not store it: no answer before the answer to a later message")
			}
			record(k, nil, backoff.Permanent(why))
		}
	}
}

func barrierChans(f jetstream.PubAckFuture) (<-chan *jetstream.PubAck, <-chan error) {
	if f == nil {
		return nil, nil
	}
	return f.Ok(), f.Err()
}

// barrierMsg goes to the stream and expects a stream name no stream can
// have (JetStream names cannot hold a space): the stream refuses it with
// "expected stream does not match" before it stores anything.
func barrierMsg(name string) *nats.Msg {
	m := nats.NewMsg(subject(name))
	m.Header.Set(jetstream.ExpectedStreamHeader, "sluice barrier")
	return m
}
