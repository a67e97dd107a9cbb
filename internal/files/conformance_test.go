package files

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
)

// A Sink is not a pipeline.Output (it is a consumer of the output stream,
// run beside the pipeline, and commits whole objects, not batches), so
// outputtest does not fit it; this is the same contract in its terms, for
// every backend and format: each of the pipeline's events in exactly one
// object, in order; a stop and a restart go on where the sink was; a
// replay of everything (its consumer lost before acknowledging) writes no
// object again; and a ctx that ends stops it promptly.
func TestSinkConformance(t *testing.T) {
	backends := map[string]func(t *testing.T) string{
		"file": func(t *testing.T) string { return "file://" + t.TempDir() },
		"s3":   func(t *testing.T) string { return newS3(t).url(fmt.Sprintf("conformance-%d/", time.Now().UnixNano())) },
	}
	for _, backend := range []string{"file", "s3"} {
		for _, format := range []string{NDJSON, NDJSONGzip, Parquet} {
			t.Run(backend+"/"+format, func(t *testing.T) {
				sinkConformance(t, Config{URL: backends[backend](t), Format: format, Partition: `{{.EventTime.Format "2006-01-02T15"}}`,
					MaxBytes: 6000, MaxEvents: 50, MaxAge: 100 * time.Millisecond})
			})
		}
	}
}

func sinkConformance(t *testing.T, cfg Config) {
	svc := newService(t)
	mixed(t, svc, 120)
	s, stop := start(t, svc, cfg)
	waitFor(t, "the first events", func() bool { return s.Status().Position == 120 })
	began := time.Now()
	stop()
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("the sink took %v to stop", d)
	}

	// Restarted on its consumer: it goes on with the new events.
	var raws [][]byte
	for i := 120; i < 200; i++ {
		raws = append(raws, ev(i, t0.Add(3*time.Hour+time.Duration(i)*time.Second)))
	}
	produce(t, svc, "p", raws...)
	s, stop = start(t, svc, cfg)
	waitFor(t, "every event", func() bool { return s.Status().Position == 200 })
	stop()
	evs := stored(t, svc)
	objs, mod := readAll(t, cfg.URL)
	if len(objs) < 4 {
		t.Fatalf("%d objects: not a useful test", len(objs))
	}
	unionOf(t, objs, evs)

	// Its consumer lost: the whole stream comes again, and every object is
	// found committed.
	if err := svc.Engine().(engine.Consumers).DeleteConsumer(context.Background(), "out", s.name); err != nil {
		t.Fatal(err)
	}
	s, stop = start(t, svc, cfg)
	waitFor(t, "the replay", func() bool { return s.Status().Position == 200 })
	stop()
	if st := s.Status(); st.Skipped != uint64(len(objs)) || st.Objects != 0 {
		t.Fatalf("replay: skipped %d of %d objects, wrote %d", st.Skipped, len(objs), st.Objects)
	}
	again, mod2 := readAll(t, cfg.URL)
	if len(again) != len(objs) {
		t.Fatalf("%d objects after the replay, %d before", len(again), len(objs))
	}
	for k, m := range mod {
		if !mod2[k].Equal(m) {
			t.Fatalf("%s was written again", k)
		}
	}
}
