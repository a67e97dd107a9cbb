package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/dustin/go-humanize"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/stream"
)

// spaceProblem is 507 Insufficient Storage naming the limit that was hit,
// with its figures. The text is the node's own: no paths, nothing from the
// engine (the node's log has those).
func spaceProblem(se *engine.SpaceError) *Problem {
	p := problem(http.StatusInsufficientStorage, "Insufficient storage", spaceText(se)+
		"; this clears by itself once space is freed")
	p.Ext = spaceExt(se)
	return p
}

// spaceExt are the problem members that say which limit was hit.
func spaceExt(se *engine.SpaceError) map[string]any {
	ext := map[string]any{"cause": se.Cause}
	switch se.Cause {
	case engine.StoreLimit:
		if se.Limit > 0 {
			ext["stored_bytes"], ext["max_store"] = se.Used, se.Limit
		}
	case engine.DiskReserve:
		ext["free_bytes"], ext["min_free_disk"] = se.Free, se.Reserve
	case engine.DiskFull:
		ext["free_bytes"] = se.Free
	}
	return ext
}

// notReady is /readyz's answer when the node cannot serve, or cannot store.
func notReady(err error) *Problem {
	var se *engine.SpaceError
	if errors.As(err, &se) {
		p := problem(http.StatusServiceUnavailable, "Not ready", "out of storage space: "+spaceText(se)+
			"; reads go on, and appends resume by themselves once space is freed")
		p.Ext = spaceExt(se)
		return p
	}
	if errors.Is(err, ErrStarting) || errors.Is(err, engine.ErrUnavailable) {
		// Why, in words an operator acts on ("NATS at nats://a:4222 unreachable: ...").
		p := problem(http.StatusServiceUnavailable, "Not ready", err.Error())
		p.header = http.Header{"Retry-After": {"5"}}
		return p
	}
	// The engine's own words (NATS errors) stay in the log, under the
	// answer's error_id (writeProblem).
	p := problem(http.StatusServiceUnavailable, "Not ready", "the engine does not answer")
	p.cause = err
	return p
}

// ErrStarting is a node that is not ready yet because it is starting.
var ErrStarting = errors.New("starting: catalog not loaded yet")

func spaceText(se *engine.SpaceError) string {
	size := func(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }
	switch se.Cause {
	case engine.StoreLimit:
		if se.Limit > 0 {
			return fmt.Sprintf("the engine's store limit is reached: %s stored of %s (nats.max_store)", size(se.Used), size(se.Limit))
		}
		return "the engine's store limit is reached"
	case engine.DiskReserve:
		return fmt.Sprintf("the node's disk has %s free, below the %s it keeps free (nats.min_free_disk)", size(se.Free), size(se.Reserve))
	case engine.DiskFull:
		return fmt.Sprintf("the node's disk is full (%s free): a write failed with no space left on device", size(se.Free))
	}
	return "out of storage space"
}

// appendProblem is the answer to a produce whose events were not all
// stored: 507 when out of space, 503 when the engine does not answer (see
// unavailableProblem), else 500; it lists exactly the events stored, with
// their sequences, and names the first one not stored and why.
func appendProblem(ae *stream.AppendError) *Problem {
	var p *Problem
	why := "an internal error (the node's log has it)"
	var se *engine.SpaceError
	switch {
	case errors.As(ae.Err, &se):
		p, why = spaceProblem(se), spaceText(se)
	case errors.Is(ae.Err, engine.ErrUnavailable):
		p = unavailableProblem(ae.Stream, ae.Err, true)
		stored := "no event is known to be stored"
		if ae.Accepted > 0 {
			stored = fmt.Sprintf("%d event(s) stored (listed in events, with their seq)", ae.Accepted)
		}
		p.Detail += fmt.Sprintf(": %s; event %d and any later valid event missing from events may or may not be stored "+
			"(no answer came). Sending the same events again is safe: ids de-duplicate", stored, ae.NotStored)
		appendExt(p, ae, p.Ext["cause"])
		return p
	default:
		p = problem(http.StatusInternalServerError, "Internal error", "")
		p.Ext = map[string]any{}
	}
	stored := "none of the events was stored"
	if ae.Accepted > 0 {
		stored = fmt.Sprintf("%d event(s) stored (listed in events, with their seq)", ae.Accepted)
	}
	p.Detail = fmt.Sprintf("%s; event %d was not stored, nor any later valid event missing from events: %s. "+
		"Sending the same events again is safe: ids de-duplicate", stored, ae.NotStored, why)
	appendExt(p, ae, why)
	return p
}

// appendExt adds what a produce answer lists to p: the events stored, the
// first not stored and why, the invalid ones.
func appendExt(p *Problem, ae *stream.AppendError, why any) {
	events := ae.Events
	if events == nil {
		events = []stream.Written{}
	}
	p.Ext["accepted"], p.Ext["duplicates"], p.Ext["events"] = ae.Accepted, ae.Duplicates, events
	p.Ext["not_stored"] = map[string]any{"index": ae.NotStored, "reason": why}
	if len(ae.Invalid) > 0 {
		p.Ext["invalid"] = ae.Invalid
	}
}

// unavailableRetry is the Retry-After of a 503 for an engine that does not
// answer: a cluster elects a leader in seconds.
const unavailableRetry = "2"

// unavailableProblem is 503 for a stream the engine cannot serve now, with
// Retry-After, naming the stream and the cause (cause: no_leader or
// engine_unavailable). appending says the stream's own append got no
// answer; otherwise it is what the request needed first (the catalog's
// definition of the stream, the stream's state). It clears by itself; the
// engine's own words stay in the log.
func unavailableProblem(name string, err error, appending bool) *Problem {
	subject := "the engine"
	if name != "" {
		subject = "stream " + name
	}
	var p *Problem
	switch {
	case errors.Is(err, engine.ErrNoLeader) && appending:
		p = problem(http.StatusServiceUnavailable, "No leader",
			subject+" has no leader (JetStream cluster electing or lost quorum); try again")
	case errors.Is(err, engine.ErrNoLeader):
		p = problem(http.StatusServiceUnavailable, "No leader",
			subject+" cannot be served now: it or the catalog defining it has no leader (JetStream cluster electing or lost quorum); try again")
	default:
		p = problem(http.StatusServiceUnavailable, "Engine unavailable",
			subject+" cannot be served now: the engine does not answer (NATS unreachable, or JetStream restarting); try again")
	}
	p.Ext = map[string]any{"cause": "engine_unavailable"}
	if errors.Is(err, engine.ErrNoLeader) {
		p.Ext["cause"] = "no_leader"
	}
	p.header = http.Header{"Retry-After": {unavailableRetry}}
	p.cause = err
	return p
}
