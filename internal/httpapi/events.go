package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/filter"
	"github.com/sluice-dev/sluice/internal/stream"
)

// Page limits of NDJSON reads.
const (
	defaultLimit = 100
	maxLimit     = 10000
	maxPageBytes = 16 << 20 // a page ends early past this many bytes; Sluice-Next continues it
)

func (a *API) produce(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	lim := a.svc.Limits
	ndjson, err := bodyType(r, true)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(lim.MaxRequestBytes)))
	if err != nil {
		return err
	}
	raws, err := stream.SplitBody(body, ndjson, lim)
	if err != nil {
		return err
	}
	res, err := a.svc.Produce(r.Context(), name, raws)
	var ae *stream.AppendError
	if err != nil && !errors.As(err, &ae) && errors.Is(err, engine.ErrUnavailable) {
		return unavailableProblem(name, err, false) // before any event was sent: the catalog, or NATS out of reach
	}
	if err != nil {
		return err
	}
	switch {
	case res.InvalidCount == 0:
		return writeJSON(w, http.StatusOK, res)
	case res.Accepted > 0:
		return writeJSON(w, http.StatusMultiStatus, res)
	}
	first := res.Invalid[0]
	e := first.Errors[0]
	p := problem(http.StatusBadRequest, "No valid events",
		fmt.Sprintf("%d event(s) refused, none stored; event %d: %s: %s: %s", res.InvalidCount, first.Index, orRoot(e.Pointer), e.Keyword, e.Message))
	p.Ext = map[string]any{"accepted": 0, "events": []any{}, "invalid": res.Invalid, "invalid_count": res.InvalidCount}
	return p
}

func orRoot(p string) string {
	if p == "" {
		return "/ (the event)"
	}
	return p
}

// readParams are the query of GET /v1/streams/{name}/events.
type readParams struct {
	rng      stream.Range
	limit    int
	envelope bool
	filter   *filter.Filter // nil: every event
	desc     bool           // newest first (NDJSON only)
}

func parseRead(r *http.Request, sse bool) (readParams, error) {
	q := r.URL.Query()
	p := readParams{limit: defaultLimit}
	if sse {
		p.limit = 0
		p.rng.Follow = true
		p.rng.From = event.Position{Kind: event.Latest}
	}
	if s := q.Get("since"); s != "" {
		pos, err := event.ParsePosition(s)
		if err != nil {
			return p, badRequest("since: %v", err)
		}
		p.rng.From = pos
	}
	if s := q.Get("until"); s != "" {
		pos, err := event.ParsePosition(s)
		if err != nil {
			return p, badRequest("until: %v", err)
		}
		p.rng.Until = &pos
	}
	if sse {
		if id := r.Header.Get("Last-Event-ID"); id != "" {
			seq, err := strconv.ParseUint(strings.TrimSpace(id), 10, 64)
			if err != nil || seq == math.MaxUint64 {
				return p, badRequest("Last-Event-ID %q: want the sequence number of the last event received", id)
			}
			p.rng.From = event.Position{Kind: event.Sequence, Seq: seq + 1}
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || (!sse && n > maxLimit) {
			return p, badRequest("limit %q: want a number from 1 to %d", s, maxLimit)
		}
		p.limit = n
	}
	p.envelope, _ = strconv.ParseBool(q.Get("envelope"))
	if s := q.Get("filter"); strings.TrimSpace(s) != "" {
		f, err := filter.Compile(s)
		if err != nil {
			return p, badRequest("filter: %v", err)
		}
		p.filter = f
	}
	switch q.Get("order") {
	case "", "asc":
	case "desc":
		if sse {
			return p, badRequest("order=desc: only for NDJSON pages; a subscription follows new events in order")
		}
		p.desc = true
	default:
		return p, badRequest("order %q: want asc or desc", q.Get("order"))
	}
	return p, nil
}

// Envelope wraps an event with where it is, for ?envelope=true.
type Envelope struct {
	Seq   uint64          `json:"seq"`
	ID    string          `json:"id"`
	Time  time.Time       `json:"time"`
	Key   string          `json:"key,omitempty"`
	Event json.RawMessage `json:"event"`
	// Foreign flags a message sluice did not write (published straight to
	// the stream's NATS subject): its payload is Event if it is JSON, Raw
	// (base64) if not. Plain reads skip such messages.
	Foreign bool   `json:"foreign,omitempty"`
	Raw     []byte `json:"raw,omitempty"`
}

func encode(e event.Event, envelope bool) []byte {
	if !envelope {
		return e.Data
	}
	env := Envelope{Seq: e.Seq, ID: e.ID, Time: e.Time, Key: e.Key, Event: e.Data, Foreign: e.Foreign}
	if e.Foreign && !json.Valid(e.Data) {
		env.Event, env.Raw = nil, e.Data
	}
	b, err := json.Marshal(env)
	if err != nil {
		// Sluice's headers on a payload that is not JSON: forged, so foreign.
		b, _ = json.Marshal(Envelope{Seq: e.Seq, Foreign: true, Raw: e.Data})
	}
	return b
}

func wantsSSE(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, _ := mime.ParseMediaType(strings.TrimSpace(part)); mt == "text/event-stream" {
			return true
		}
	}
	return false
}

func (a *API) read(w http.ResponseWriter, r *http.Request) error {
	sse := wantsSSE(r)
	p, err := parseRead(r, sse)
	if err != nil {
		return err
	}
	if sse {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		defer context.AfterFunc(a.closing, cancel)()
		r = r.WithContext(ctx)
	}
	if p.desc {
		return a.pageDesc(w, r, p)
	}
	if !sse {
		p.rng.Want = p.limit
	}
	// Foreign messages come flagged: envelopes show them, plain reads skip
	// them here, where each counts towards the page's scan bound.
	p.rng.Foreign = true
	cur, err := a.svc.Open(r.Context(), r.PathValue("name"), p.rng)
	if err != nil {
		return err
	}
	defer cur.Close()
	if sse && cur.Done() {
		// The range is over (e.g. resuming past until): 204 tells an
		// EventSource client to stop reconnecting.
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if sse {
		return a.subscribe(w, r, cur, p)
	}
	return a.page(w, r, cur, p)
}

// page answers one NDJSON page. It is buffered so the Sluice-Next header
// can say where the next page starts; pages end by count or by size.
func (a *API) page(w http.ResponseWriter, r *http.Request, cur *stream.Cursor, p readParams) error {
	var buf []byte
	next, skipped := cur.Start(), 0
	for n, scanned := 0, 0; n < p.limit && len(buf) < maxPageBytes && scanned < maxScan; scanned++ {
		e, err := cur.Next(r.Context())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		next = e.Seq + 1
		if e.Foreign && !p.envelope {
			skipped++
			continue
		}
		if !p.matches(e) {
			continue
		}
		buf = append(append(buf, encode(e, p.envelope)...), '\n')
		n++
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Sluice-Next", strconv.FormatUint(next, 10))
	if skipped > 0 {
		w.Header().Set("Sluice-Skipped", strconv.Itoa(skipped))
	}
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(buf)
	return err
}
