package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
)

// maxScan bounds the events one NDJSON page looks at, so a filter that
// matches rarely answers in bounded time; Sluice-Next continues the scan.
const maxScan = 10000

// descWindow bounds the events a newest-first page reads per round trip.
const descWindow = 256

// matches applies the read's filter. An event the expression cannot be
// evaluated on (a missing field, a wrong type) does not match.
func (p readParams) matches(e event.Event) bool {
	if p.filter == nil {
		return true
	}
	d := json.NewDecoder(bytes.NewReader(e.Data))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return false
	}
	ok, err := p.filter.Match(v)
	return err == nil && ok
}

// pageDesc answers a page newest first: from just before until (default:
// the end) back towards since (default: the first event). Sluice-Next is
// the until of the next, older page; 0 when the scan reached since. It
// reads windows of the stream oldest first and walks each backwards; a
// window of events too large to hold is read one event at a time.
func (a *API) pageDesc(w http.ResponseWriter, r *http.Request, p readParams) error {
	ctx, name := r.Context(), r.PathValue("name")
	lo, err := a.svc.Resolve(ctx, name, p.rng.From)
	if err != nil {
		return err
	}
	hi, err := a.svc.Resolve(ctx, name, event.Position{Kind: event.Latest})
	if err != nil {
		return err
	}
	if p.rng.Until != nil {
		u, err := a.svc.Resolve(ctx, name, *p.rng.Until)
		if err != nil {
			return err
		}
		hi = min(hi, u)
	}
	lo = max(lo, 1)
	var buf []byte
	n, scanned, skipped := 0, 0, 0
	full := func() bool { return n >= p.limit || len(buf) >= maxPageBytes || scanned >= maxScan }
	take := func(e event.Event) {
		switch {
		case e.Foreign && !p.envelope:
			skipped++
		case p.matches(e):
			buf = append(append(buf, encode(e, p.envelope)...), '\n')
			n++
		}
	}
	seq := hi // everything from seq on is looked at
	for seq > lo && !full() {
		width := uint64(max(p.limit-n, 16))
		if p.filter != nil {
			width = uint64(maxScan - scanned)
		}
		from := seq - min(width, descWindow, seq-lo)
		evs, ok, err := a.svc.Window(ctx, name, from, seq, max(maxPageBytes-len(buf), 1<<20))
		if err != nil {
			return err
		}
		if !ok {
			seq--
			scanned++
			e, err := a.svc.At(ctx, name, seq)
			if errors.Is(err, engine.ErrNotFound) {
				continue // deleted, or trimmed by retention
			}
			if err != nil {
				return err
			}
			take(e)
			continue
		}
		i := len(evs) - 1
		for ; i >= 0 && !full(); i-- {
			scanned += int(seq - evs[i].Seq) // the sequences passed, deleted ones too
			seq = evs[i].Seq
			take(evs[i])
		}
		if i < 0 && !full() {
			scanned += int(seq - from)
			seq = from
		}
	}
	next := seq
	if seq <= lo {
		next = 0
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Sluice-Next", strconv.FormatUint(next, 10))
	if skipped > 0 {
		w.Header().Set("Sluice-Skipped", strconv.Itoa(skipped))
	}
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(buf)
	return err
}
