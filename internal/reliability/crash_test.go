//go:build reliability

package reliability

import (
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/source"
)

// TestCrashSafety runs `sluice demo` (the flagship project offline: the
// replayed feed, the simulated API at 100 ms a request, the table, the files
// output rolling an object every 400 events or second) and kills it with
// SIGKILL at random moments, SLUICE_CRASHES times (default 24): a quarter of
// them during start-up, the others while it ingests, the pipeline has
// batches in the function and objects roll. Each time it starts again on the
// same data. At the end, with the source paused and the pipeline caught up:
// every event the feed sent is in the input stream exactly once and in feed
// order, the output stream has exactly one output per input the pipeline's
// where accepts, the table equals its rebuild from the output stream, and
// the objects hold every output exactly once, none partial.
func TestCrashSafety(t *testing.T) {
	kills := envInt(t, "SLUICE_CRASHES", 24)
	seed := uint64(time.Now().UnixNano())
	if s := envInt(t, "SLUICE_SEED", 0); s != 0 {
		seed = uint64(s)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("seed %d (SLUICE_SEED to repeat)", seed)
	dir := t.TempDir()
	data, logs := filepath.Join(dir, "data"), filepath.Join(dir, "sluice.log")
	// The files output rolls often, so that kills land while objects are gathered and written.
	project := projectWithRoll(t, filepath.Join(dir, "project"), "roll: {max_events: 400, max_age: 1s}")
	args := []string{"demo", "--config", project, "--data", data, "--progress", "0", "--rate", "200", "--api-latency", "100ms", "--history", "1h"}
	started := time.Now()
	var early, ingesting, inFunction, midRoll int
	for i := range kills {
		p := startProc(t, logs, args...)
		if i%4 == 3 { // during start-up: the engine recovering, the source connecting
			time.Sleep(time.Duration(rng.IntN(600)) * time.Millisecond)
			if !ready(p.url) {
				early++
			}
			p.kill()
			continue
		}
		waitReady(t, p.url)
		time.Sleep(time.Duration(300+rng.IntN(2500)) * time.Millisecond)
		var s1, s2 source.StatusView
		var pl pipeline.Status
		_ = getJSON(p.url, "/v1/sources/"+src, &s1)
		time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
		_ = getJSON(p.url, "/v1/sources/"+src, &s2)
		_ = getJSON(p.url, "/v1/pipelines/"+pipeName, &pl)
		lag, _ := metric(p.url, "sluice_files_lag_events")
		p.kill()
		if lag > 0 {
			midRoll++ // an object gathered or being written
		}
		if s2.Stored > s1.Stored {
			ingesting++
		}
		if pl.LagEvents > 0 && pl.Processed > 0 {
			inFunction++
		}
	}
	killed := time.Since(started)
	if kills >= 20 && (ingesting < kills/3 || inFunction < kills/3 || midRoll < kills/3) {
		t.Fatalf("of %d kills, %d hit ingest, %d the pipeline at work and %d an object rolling: too few", kills, ingesting, inFunction, midRoll)
	}

	p := startProc(t, logs, args...)
	waitReady(t, p.url)
	time.Sleep(time.Second)
	post(t, p.url, "/v1/sources/"+src+"/pause", nil, nil)
	waitFor(t, 3*time.Minute, "caught up", func() bool {
		var pl pipeline.Status
		last := infoOf(t, p.url, input).LastSeq
		return getJSON(p.url, "/v1/pipelines/"+pipeName, &pl) == nil && pl.Position == last && pl.LagEvents == 0
	})
	waitFor(t, time.Minute, "all outputs in objects", func() bool {
		lag, ok := metric(p.url, "sluice_files_lag_events")
		last, _ := metric(p.url, "sluice_files_last_committed_seq")
		return ok && lag == 0 && uint64(last) == infoOf(t, p.url, output).LastSeq
	})

	inputs := readStream(t, p.url, input)
	want := replayIDs(t, recorded(t), len(inputs))
	for i, raw := range inputs {
		if id := metaID(t, raw); id != want[i] {
			t.Fatalf("input %d: %s, want %s (replay offset %d): a gap, a duplicate or out of order", i, id, want[i], i)
		}
	}
	cfg := projectConfig(t, "http://127.0.0.1:1/", "http://127.0.0.1:1")
	q := qualifying(t, cfg, inputs)
	outputs := readStream(t, p.url, output)
	keys := checkOutputs(t, q, outputs)
	versions := checkTable(t, p.url, keys)
	objects, leftovers := checkObjects(t, filepath.Join(data, "files", "page_images"), outputs)
	for _, s := range []string{input + ".dlq", pipeName + ".errors"} {
		if n := infoOf(t, p.url, s).Messages; n != 0 {
			t.Errorf("%s holds %d dead letters", s, n)
		}
	}
	p.stop(t)
	t.Logf("%d kill -9 survived in %v (%d during start-up, %d while ingesting, %d with the pipeline at work, %d with an object rolling); "+
		"%d inputs once each and in order (%s replay loops), %d outputs for %d qualifying inputs, %d table versions over %d keys equal to their rebuild, "+
		"the outputs in %d whole NDJSON objects once each (%d temporary files left by kills mid-write, not objects)",
		kills, killed.Round(time.Second), early, ingesting, inFunction, midRoll, len(inputs), strconv.FormatFloat(float64(len(inputs))/float64(len(recorded(t))), 'f', 1, 64),
		len(outputs), len(q), versions, len(keys), objects, leftovers)
}
