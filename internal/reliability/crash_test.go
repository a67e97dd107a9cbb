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
// replayed feed, the simulated API at 100 ms a request, the table) and
// kills it with SIGKILL at random moments, SLUICE_CRASHES times (default
// 24): a quarter of them during start-up, the others while it ingests and
// the pipeline has batches in the function. Each time it starts again on the
// same data. At the end, with the source paused and the pipeline caught up:
// every event the feed sent is in the input stream exactly once and in feed
// order, the output stream has exactly one output per input the pipeline's
// where accepts, and the table equals its rebuild from the output stream.
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
	args := []string{"demo", "--data", data, "--progress", "0", "--rate", "200", "--api-latency", "100ms", "--history", "1h"}
	started := time.Now()
	var early, ingesting, inFunction int
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
		p.kill()
		if s2.Stored > s1.Stored {
			ingesting++
		}
		if pl.LagEvents > 0 && pl.Processed > 0 {
			inFunction++
		}
	}
	killed := time.Since(started)
	if kills >= 20 && (ingesting < kills/3 || inFunction < kills/3) {
		t.Fatalf("of %d kills, %d hit ingest and %d the pipeline at work: too few", kills, ingesting, inFunction)
	}

	p := startProc(t, logs, args...)
	waitReady(t, p.url)
	time.Sleep(time.Second)
	post(t, p.url, "/v1/sources/"+src+"/pause", nil, nil)
	var last uint64
	waitFor(t, 3*time.Minute, "caught up", func() bool {
		var pl pipeline.Status
		last = infoOf(t, p.url, input).LastSeq
		return getJSON(p.url, "/v1/pipelines/"+pipeName, &pl) == nil && pl.Position == last && pl.LagEvents == 0
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
	for _, s := range []string{input + ".dlq", pipeName + ".errors"} {
		if n := infoOf(t, p.url, s).Messages; n != 0 {
			t.Errorf("%s holds %d dead letters", s, n)
		}
	}
	p.stop(t)
	t.Logf("%d kill -9 survived in %v (%d during start-up, %d while ingesting, %d with the pipeline at work); "+
		"%d inputs once each and in order (%s replay loops), %d outputs for %d qualifying inputs, %d table versions over %d keys equal to their rebuild",
		kills, killed.Round(time.Second), early, ingesting, inFunction, len(inputs), strconv.FormatFloat(float64(len(inputs))/float64(len(recorded(t))), 'f', 1, 64),
		len(outputs), len(q), versions, len(keys))
}
