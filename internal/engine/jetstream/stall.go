package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/engine"
)

// DefaultPatience is how long an append waits, by default, for a stream
// of an external NATS that answers none of its messages (Options.Patience).
// A leader that dies is replaced in 4-9 s (the election timeout), which
// an append rides out; a stream that lost its quorum has no leader until
// enough of its servers are back, which can take any time.
const DefaultPatience = 10 * time.Second

// errStalled ends a wait that got no answer for the patience.
var errStalled = errors.New("the stream answers nothing")

// stallWatch notices that an append waits in vain: no message of it was
// answered (stored or refused) for the patience, or, under a context with
// a deadline, shortly before that deadline (so that the caller learns why,
// rather than only that its time is up). Its ctx then ends with
// errStalled, and why asks the stream what is wrong.
//
// The embedded server has no leaders and no network; its appends that
// get no answer are settled by the guard (see settle.go), so it never
// stalls.
type stallWatch struct {
	e        *Engine
	parent   context.Context
	ctx      context.Context // parent, ended by a stall too
	cancel   context.CancelCauseFunc
	timer    *time.Timer
	last     time.Time // the last answer, or the start
	capped   bool      // the parent's deadline bounds the wait
	renewals int
}

func (e *Engine) watchStall(ctx context.Context) *stallWatch {
	w := &stallWatch{e: e, parent: ctx, last: time.Now()}
	if e.srv != nil {
		w.ctx = ctx
		return w
	}
	_, w.capped = ctx.Deadline()
	w.start()
	return w
}

func (w *stallWatch) start() {
	w.ctx, w.cancel = context.WithCancelCause(w.parent)
	w.timer = time.AfterFunc(w.next(), func() { w.cancel(errStalled) })
}

// next is how long from now the wait may go without an answer.
func (w *stallWatch) next() time.Duration {
	d := w.e.patience
	if dl, ok := w.parent.Deadline(); ok && w.capped {
		left := time.Until(dl)
		d = min(d, left-min(left/10, time.Second))
	}
	return max(d, 0)
}

// answered is called for every answer a message gets.
func (w *stallWatch) answered() {
	if w == nil || w.timer == nil {
		return
	}
	w.last = time.Now()
	w.timer.Reset(w.next())
}

func (w *stallWatch) stop() {
	if w.timer != nil {
		w.timer.Stop()
		w.cancel(nil)
	}
}

// why says why the stream answered nothing: NATS out of reach, no leader,
// a leader without a quorum. It is nil when the stream seems able to
// store, and the wait goes on (twice at most: then it gives up anyway).
func (w *stallWatch) why(ctx context.Context, stream string) error {
	waited := time.Since(w.last).Round(time.Millisecond)
	why := w.e.whyUnanswered(ctx, stream, waited)
	if why == nil && w.renewals >= 2 {
		why = fmt.Errorf("%w: no message was answered for %s, though the stream seems to have a leader", engine.ErrUnavailable, waited)
	}
	if why != nil {
		return why
	}
	w.renewals++
	w.capped = false // the deadline is near and there is no reason to give: let it end the wait
	w.stop()
	w.start()
	return nil
}

// whyUnanswered asks NATS about a stream whose appends got no answer for
// waited; nil when it has a leader with a quorum.
func (e *Engine) whyUnanswered(ctx context.Context, stream string, waited time.Duration) error {
	if err := e.link.check(); err != nil {
		return err
	}
	// Asked even when ctx is about to end: the answer is why it ended.
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	s, err := e.js.Stream(ictx, streamName(stream))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		e.forget(stream, err)
		return mapErr(err)
	}
	if err != nil {
		return fmt.Errorf("%w (JetStream cluster electing, or too few servers up for a quorum): no answer for %s, "+
			"and none to a stream info request either (%v)", engine.ErrNoLeader, waited, err)
	}
	return noQuorum(s.CachedInfo(), waited)
}

// noQuorum says why a stream cannot store, from its info; nil when it can.
func noQuorum(info *jetstream.StreamInfo, waited time.Duration) error {
	ci := info.Cluster
	if ci == nil || ci.Name == "" {
		return nil // a single server: no leader to lack
	}
	replicas := max(info.Config.Replicas, 1)
	var offline []string
	for _, r := range ci.Replicas {
		if r.Offline {
			offline = append(offline, r.Name)
		}
	}
	if ci.Leader == "" {
		return fmt.Errorf("%w (JetStream cluster electing, or too few of its %d servers up for a quorum: %d offline); no answer for %s",
			engine.ErrNoLeader, replicas, len(offline), waited)
	}
	if up, quorum := replicas-len(offline), replicas/2+1; up < quorum {
		return fmt.Errorf("%w that can store: its leader %s lost its quorum (%s offline: %d of %d servers up, a quorum is %d); no answer for %s",
			engine.ErrNoLeader, ci.Leader, strings.Join(offline, ", "), up, replicas, quorum, waited)
	}
	return nil
}
