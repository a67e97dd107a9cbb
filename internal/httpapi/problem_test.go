package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestInternalErrorHidesItsText: a 500 says "internal error" with an id;
// the node's log line has the same id and the real error.
func TestInternalErrorHidesItsText(t *testing.T) {
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	secret := errors.New(`nats: invalid subject "sluice.s.a b.E" at /var/lib/sluice/data`)
	w := httptest.NewRecorder()
	writeProblem(w, httptest.NewRequest("GET", "/v1/streams/x", nil), log, fmt.Errorf("info: %w", secret))
	if w.Code != http.StatusInternalServerError || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("answer %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	var p map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	id, _ := p["error_id"].(string)
	if id == "" || strings.Contains(w.Body.String(), "nats") || strings.Contains(w.Body.String(), "/var/lib") ||
		!strings.Contains(p["detail"].(string), "internal error "+id) {
		t.Fatalf("the answer leaks or lacks its id: %s", w.Body)
	}
	var line map[string]any
	if err := json.Unmarshal(logged.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", logged.String(), err)
	}
	if line["error_id"] != id || !strings.Contains(line["err"].(string), secret.Error()) {
		t.Fatalf("log line %v does not have id %s and the error", line, id)
	}
	// A problem a handler made on purpose keeps its words, and gets an id too.
	w = httptest.NewRecorder()
	writeProblem(w, httptest.NewRequest("GET", "/readyz", nil), log, problem(http.StatusServiceUnavailable, "Not ready", "the engine is starting"))
	if w.Code != 503 || !strings.Contains(w.Body.String(), "the engine is starting") || !strings.Contains(w.Body.String(), "error_id") {
		t.Fatalf("deliberate 503: %d %s", w.Code, w.Body)
	}
}

// TestBodyType: JSON bodies are application/json (or NDJSON where events
// are produced), UTF-8; anything else is 415 with the accepted types.
func TestBodyType(t *testing.T) {
	for _, c := range []struct {
		ct       string
		ndjsonOK bool
		ndjson   bool
		ok       bool
	}{
		{"application/json", false, false, true},
		{"application/json; charset=utf-8", true, false, true},
		{"Application/JSON", false, false, true},
		{"application/x-ndjson", true, true, true},
		{"application/jsonl", true, true, true},
		{"application/json-seq", true, true, true},
		{"application/x-ndjson", false, false, false},
		{"", true, false, false},
		{"text/plain", true, false, false},
		{"application/x-www-form-urlencoded", true, false, false},
		{"multipart/form-data; boundary=x", true, false, false},
		{"image/png", true, false, false},
		{"application/json; charset=latin1", true, false, false},
		{"application/json;;", true, false, false},
	} {
		r := httptest.NewRequest("POST", "/", nil)
		if c.ct != "" {
			r.Header.Set("Content-Type", c.ct)
		}
		ndjson, err := bodyType(r, c.ndjsonOK)
		var p *Problem
		switch {
		case c.ok && (err != nil || ndjson != c.ndjson):
			t.Errorf("%q (ndjson ok %v): %v %v", c.ct, c.ndjsonOK, ndjson, err)
		case !c.ok && (!errors.As(err, &p) || p.Status != 415 || p.header.Get("Accept") == ""):
			t.Errorf("%q (ndjson ok %v): want 415 with Accept, got %v", c.ct, c.ndjsonOK, err)
		}
	}
}

// TestNotReadyHidesTheEnginesWords: /readyz says why in its own words; the
// engine's (NATS errors) are in the log under the answer's error_id.
func TestNotReadyHidesTheEnginesWords(t *testing.T) {
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	w := httptest.NewRecorder()
	writeProblem(w, httptest.NewRequest("GET", "/readyz", nil), log, notReady(errors.New("jetstream not ready: nats: timeout")))
	if w.Code != 503 || strings.Contains(w.Body.String(), "nats") || !strings.Contains(w.Body.String(), "error_id") ||
		!strings.Contains(logged.String(), "nats: timeout") {
		t.Fatalf("answer %d %s; log %s", w.Code, w.Body, logged.String())
	}
	w = httptest.NewRecorder()
	writeProblem(w, httptest.NewRequest("GET", "/readyz", nil), log, notReady(ErrStarting))
	if !strings.Contains(w.Body.String(), "starting") {
		t.Fatalf("starting: %s", w.Body)
	}
}
