package stream

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine/jetstream"
	"github.com/sluice-dev/sluice/internal/schema"
)

// fuzzSchema has what makes validation cost: integers, bounds, a
// multipleOf, an enum and a pattern.
const fuzzSchema = `{"type":"object","required":["id","dt"],"properties":{"id":{"type":["string","number"]},"dt":{"type":"string"},
"n":{"type":"integer","minimum":-1e300,"maximum":1e300,"multipleOf":0.5},"e":{"enum":[1,2.5,"x",[1],{"a":1}]},
"s":{"type":"string","pattern":"^[a-z]+$"},"a":{"type":"array","items":{"type":"number"}}},"additionalProperties":{"type":"boolean"}}`

// FuzzProduce feeds arbitrary bodies through the produce path (split,
// decode, validate, store in an embedded NATS) under small limits and
// checks its bounds: the answer's size follows from the limits alone, the
// memory allocated from the body's size, the work (events validated) from
// the number of events, and a call returns (a generous deadline that only
// catches a hang).
func FuzzProduce(f *testing.F) {
	ctx := context.Background()
	e, err := jetstream.Open(ctx, jetstream.Options{DataDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { e.Close() })
	cat, err := catalog.Open(ctx, e)
	if err != nil {
		f.Fatal(err)
	}
	s := New(e, cat, nil, nil)
	s.Limits = Limits{MaxEventBytes: 4 << 10, MaxRequestBytes: 64 << 10, MaxEventsPerRequest: 200, MaxNumberLength: 100, MaxInvalidListed: 20}
	b, err := schema.FromDocument("urn:fuzz", []byte(fuzzSchema))
	if err != nil {
		f.Fatal(err)
	}
	if _, err := s.Create(ctx, catalog.Stream{Name: "fuzz", ID: "/id", Time: "/dt"}, b); err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		`{"id":"a","dt":"2024-01-01T00:00:00Z","n":2}`,
		`{"id":"a","dt":"2024-01-01T00:00:00Z","n":1e999999}`,
		`[{"id":1,"dt":"2024-01-01T00:00:00Z","e":[1]},{"id":"b","dt":"x","s":"A"}]`,
		`{"id":"c","dt":"2024-01-01T00:00:00Z","x":1,"x":true}`,
		strings.Repeat("{}\n", 300),
		`{"id":"d","dt":"2024-01-01T00:00:00Z","a":[` + strings.Repeat("1e308,", 500) + `1]}`,
		`{"id":"w1 ","dt":"2024-01-01T00:00:00Z","z":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`,
	} {
		f.Add([]byte(seed), true)
		f.Add([]byte(seed), false)
	}
	lim := s.Limits
	// The largest answer: every event written, and the most refusals
	// listed, each with its most violations, every byte of their text
	// escaped in JSON (\u00XX: 6 bytes).
	maxAnswer := lim.MaxEventsPerRequest*len(`{"index":99999,"seq":18446744073709551615,"duplicate":false},`) +
		lim.MaxInvalidListed*(100+maxViolations*(2*6*maxViolationText+100)) + 200
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		if len(body) > lim.MaxRequestBytes {
			return // the HTTP layer cuts the body there
		}
		validated := validatedCount(s)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		raws, err := SplitBody(body, ndjson, lim)
		if err != nil {
			var tl *TooLargeError
			var tm *TooManyEventsError
			if !errors.Is(err, ErrBody) && !errors.As(err, &tl) && !errors.As(err, &tm) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		res, err := s.Produce(cctx, "fuzz", raws)
		if err != nil {
			t.Fatalf("produce: %v", err) // a hang ends as a deadline here
		}
		runtime.ReadMemStats(&after)
		if res.Accepted+res.InvalidCount != len(raws) || len(res.Invalid) > lim.MaxInvalidListed {
			t.Fatalf("%d events: %d accepted, %d invalid, %d listed", len(raws), res.Accepted, res.InvalidCount, len(res.Invalid))
		}
		for _, inv := range res.Invalid {
			if len(inv.Errors) == 0 || len(inv.Errors) > maxViolations {
				t.Fatalf("event %d: %d errors listed", inv.Index, len(inv.Errors))
			}
		}
		if work := validatedCount(s) - validated; work != float64(len(raws)) {
			t.Fatalf("validated %v times for %d events", work, len(raws))
		}
		answer, _ := json.Marshal(res)
		if len(answer) > maxAnswer {
			t.Fatalf("answer of %d bytes, over %d", len(answer), maxAnswer)
		}
		// Generous: decoding and validating allocate some tens of times an
		// event's size; the embedded server allocates meanwhile too.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(500*len(body)+64<<20) {
			t.Fatalf("allocated %d bytes for a body of %d", alloc, len(body))
		}
	})
}

func validatedCount(s *Service) float64 {
	var m dto.Metric
	_ = s.metrics.Validated.WithLabelValues("fuzz").Write(&m)
	return m.GetCounter().GetValue()
}
