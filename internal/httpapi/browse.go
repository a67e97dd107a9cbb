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
// the until of the next, older page; 0 when the scan reached since.
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
	seq := hi // the next sequence to look at is seq-1
	for n, scanned := 0, 0; seq > lo && n < p.limit && len(buf) < maxPageBytes && scanned < maxScan; scanned++ {
		seq--
		e, err := a.svc.At(ctx, name, seq)
		if errors.Is(err, engine.ErrNotFound) {
			continue // deleted, or trimmed by retention
		}
		if err != nil {
			return err
		}
		if !p.matches(e) {
			continue
		}
		buf = append(append(buf, encode(e, p.envelope)...), '\n')
		n++
	}
	next := seq
	if seq <= lo {
		next = 0
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Sluice-Next", strconv.FormatUint(next, 10))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(buf)
	return err
}
