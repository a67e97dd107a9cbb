package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/schema"
)

// Result is the outcome of one produce call.
type Result struct {
	Accepted   int       `json:"accepted"`   // valid events, stored now or before (duplicates)
	Duplicates int       `json:"duplicates"` // of those, the ones whose id was already stored
	Events     []Written `json:"events"`
	// Invalid lists refused events, in order: all of them for ProduceFrom,
	// the first Limits.MaxInvalidListed for Produce.
	Invalid []Invalid `json:"invalid,omitempty"`
	// InvalidCount is the number of refused events, listed or not.
	InvalidCount int `json:"invalid_count"`
}

// Written is where a valid event is.
type Written struct {
	Index     int    `json:"index"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
}

// Invalid is an event that was refused, and why.
type Invalid struct {
	Index  int                `json:"index"`
	Errors []schema.Violation `json:"errors"` // the first maxViolations
	// OmittedErrors counts the violations past the first maxViolations.
	OmittedErrors int `json:"omitted_errors,omitempty"`
}

// Rule names for checks that are the stream's, not the schema's.
const (
	RuleJSON   = schema.RuleJSON
	RuleObject = "object"
	RuleID     = "sluice.id"
	RuleTime   = "sluice.time"
	RuleSize   = "sluice.size"
)

// Produce validates raw events against the stream's schema and stores the
// valid ones, in order, durably; it returns once they are stored. Invalid
// events are reported by index and cost nothing else; the answer lists at
// most Limits.MaxInvalidListed of them (InvalidCount counts them all), so
// its size is bounded by the number of events, not of errors. Work stops
// when ctx ends, before anything is stored.
func (s *Service) Produce(ctx context.Context, name string, raws [][]byte) (Result, error) {
	return s.produce(ctx, name, Origin{}, raws, s.Limits.MaxInvalidListed)
}

// Origin says who produces: a source or a pipeline ([a-z0-9_-]).
type Origin struct {
	Name string
	// Positions, if set, are the origin's own positions, one per event,
	// stored in the same message, so the stream itself is the origin's
	// checkpoint (LastFrom reads it back; a pipeline's stream output reads
	// its last outputs back).
	Positions []string
	// IDs, if set, replace the events' own ids for de-duplication: a
	// pipeline derives them from its input, so a redelivery is dropped.
	IDs []string
}

// ProduceFrom is Produce for an origin; it lists every invalid event (an
// origin dead-letters each one, and bounds its own batches).
func (s *Service) ProduceFrom(ctx context.Context, name string, o Origin, raws [][]byte) (Result, error) {
	return s.produce(ctx, name, o, raws, 0)
}

// produce lists at most listed invalid events (0: all).
func (s *Service) produce(ctx context.Context, name string, o Origin, raws [][]byte, listed int) (Result, error) {
	start := time.Now()
	c, err := s.schema(ctx, name)
	if err != nil {
		return Result{}, err
	}
	// Nothing is sized by the number of events up front: a body of a
	// million invalid events holds no slot for a valid one.
	res := Result{Events: []Written{}}
	var msgs []engine.Msg
	var times []int64
	var index []int
	version := strconv.Itoa(c.def.Version)
	for i, raw := range raws {
		// A client that left stops the work: nothing of it is stored.
		if err := ctx.Err(); err != nil {
			return Result{}, fmt.Errorf("produce to %q: stopped before event %d of %d: %w", name, i, len(raws), context.Cause(ctx))
		}
		m, t, vs := c.rules(s.Limits).prepare(raw)
		s.metrics.Validated.WithLabelValues(name).Inc()
		if vs != nil {
			res.InvalidCount++
			if listed <= 0 || len(res.Invalid) < listed {
				res.Invalid = append(res.Invalid, newInvalid(i, vs))
			}
			s.metrics.Rejected.WithLabelValues(name, reason(vs)).Inc()
			continue
		}
		m.Header[hdrVersion] = version
		m.Origin = o.Name
		if o.Positions != nil {
			m.Header[hdrPosition] = o.Positions[i]
		}
		if o.Name != "" {
			m.Header[hdrOrigin] = o.Name
		}
		if o.IDs != nil {
			m.ID = o.IDs[i]
		}
		msgs, times, index = append(msgs, m), append(times, t), append(index, i)
	}
	if len(msgs) > 0 {
		appended, err := s.append(ctx, name, c.def.Created, msgs, times)
		if err != nil {
			return Result{}, s.appendFailed(name, res, index, err)
		}
		for j, a := range appended {
			res.Events = append(res.Events, Written{Index: index[j], Seq: a.Seq, Duplicate: a.Duplicate})
			res.Accepted++
			if a.Duplicate {
				res.Duplicates++
			}
		}
		s.metrics.Produced.WithLabelValues(name).Add(float64(res.Accepted - res.Duplicates))
		s.metrics.Duplicates.WithLabelValues(name).Add(float64(res.Duplicates))
	}
	s.metrics.Latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
	return res, nil
}

func reason(vs []schema.Violation) string {
	switch vs[0].Keyword {
	case RuleJSON, RuleObject, schema.RuleDuplicateKey:
		return "json"
	case schema.RuleNumber:
		return "number"
	case RuleID:
		return "id"
	case RuleTime:
		return "time"
	case RuleSize:
		return "size"
	}
	return "schema"
}

// Check validates events as Produce would, and stores nothing.
func (s *Service) Check(ctx context.Context, name string, raws [][]byte) ([]Invalid, error) {
	c, err := s.schema(ctx, name)
	if err != nil {
		return nil, err
	}
	var out []Invalid
	for i, raw := range raws {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("check for %q: stopped before event %d of %d: %w", name, i, len(raws), context.Cause(ctx))
		}
		_, _, vs := c.rules(s.Limits).prepare(raw)
		s.metrics.Validated.WithLabelValues(name).Inc()
		if vs != nil {
			out = append(out, newInvalid(i, vs))
		}
	}
	return out, nil
}

// mark is a stream's running maximum of event time, which makes time
// seeking a binary search even when event times arrive out of order.
type mark struct {
	mu      sync.Mutex
	created time.Time // of the stream it belongs to: a recreated stream starts over
	loaded  bool
	max     int64
}

// append stamps each message with the running maximum of event time and
// publishes; the lock keeps stamps and stream order the same on this node.
func (s *Service) append(ctx context.Context, name string, created time.Time, msgs []engine.Msg, times []int64) ([]engine.Appended, error) {
	s.mu.Lock()
	mk, ok := s.marks[name]
	if !ok || !mk.created.Equal(created) {
		mk = &mark{created: created}
		s.marks[name] = mk
	}
	s.mu.Unlock()

	mk.mu.Lock()
	if !mk.loaded {
		if err := s.loadMark(ctx, name, mk); err != nil {
			mk.mu.Unlock()
			return nil, err
		}
	}
	for i := range msgs {
		mk.max = max(mk.max, times[i])
		msgs[i].Header[hdrMark] = strconv.FormatInt(mk.max, 10)
	}
	pending, err := s.eng.Publish(ctx, name, msgs)
	mk.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return pending.Wait(ctx)
}

// markLookback bounds how far loadMark looks back for a message with a mark.
const markLookback = 1000

// loadMark reads the running maximum from the stream's last event that has
// one, so a restarted node (or another node) carries on where the stream
// is. Messages without a mark (deleted ones, or published straight into the
// stream's NATS subject: no Sluice-Mark, maybe not JSON) are passed over:
// starting again from 0 would break the monotonic mark time seeks rely on.
func (s *Service) loadMark(ctx context.Context, name string, mk *mark) error {
	st, err := s.eng.State(ctx, name)
	if err != nil {
		return err
	}
	looked := 0
	for seq := st.LastSeq; st.Messages > 0 && seq >= st.FirstSeq && seq > 0 && looked < markLookback; seq, looked = seq-1, looked+1 {
		m, err := s.eng.Get(ctx, name, seq) // the first message at or after seq
		if errors.Is(err, engine.ErrNotFound) || (err == nil && m.Seq != seq) {
			continue // deleted: what comes after it was looked at already
		}
		if err != nil {
			return err
		}
		if v, err := strconv.ParseInt(m.Header[hdrMark], 10, 64); err == nil {
			mk.max = v
			mk.loaded = true
			return nil
		}
	}
	if st.Messages > 0 {
		s.log.Warn("no time mark in the stream's last messages; the mark starts again from the events to come",
			"stream", name, "looked_back", looked, "last_seq", st.LastSeq)
	}
	mk.loaded = true
	return nil
}

// invalidUTF8At is the offset of the first byte of b that is not UTF-8.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}
