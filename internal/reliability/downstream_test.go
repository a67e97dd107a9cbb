//go:build reliability

package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	mw "github.com/sluice-dev/sluice/internal/function/mediawiki"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// TestDownstreamFaults runs the flagship pipeline on 2,000 replayed
// recorded events while the simulated MediaWiki API answers every 4th
// request with 503, every 7th with a maxlag error, and, 2 s out of every
// 3 s, takes longer than the function's timeout. The function may try 3
// times. Every input the pipeline's where accepts ends either with one
// output or with one dead letter that carries its error; none is lost.
// With the API healthy again, a redrive brings every dead letter through:
// then each qualifying input has exactly one output, the dead-letter
// stream is empty, and the table equals its rebuild.
func TestDownstreamFaults(t *testing.T) {
	const total = 2000
	sim := mediawiki.New(mediawiki.Options{Status5xxEvery: 4, MaxlagEvery: 7})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	t.Cleanup(sim.Close)
	cfg := projectConfig(t, "", ts.URL)
	p := cfg.Pipelines[pipeName]
	p.Function.Config["max_attempts"] = 3
	p.Function.Config["timeout"] = "300ms"
	cfg.Pipelines[pipeName] = p
	_, base := startNode(t, cfg)

	ctx, stopSpikes := context.WithCancel(context.Background())
	var spikes int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // latency spikes: 2 s over the timeout, 1 s normal
		defer wg.Done()
		for ctx.Err() == nil {
			sim.SetLatency(700 * time.Millisecond)
			spikes++
			sleep(ctx, 2*time.Second)
			sim.SetLatency(0)
			sleep(ctx, time.Second)
		}
	}()
	events := replayEvents(t, recorded(t), total)
	for i := 0; i < total; i += 50 { // over 10 s, so that batches meet spikes and calm
		var body bytes.Buffer
		for _, e := range events[i : i+50] {
			body.Write(e)
			body.WriteByte('\n')
		}
		if status, b := produce(t, base, input, "application/x-ndjson", body.Bytes()); status != 200 {
			t.Fatalf("produce: %d %s", status, b)
		}
		time.Sleep(250 * time.Millisecond)
	}
	waitFor(t, 3*time.Minute, "done", func() bool {
		var st pipeline.Status
		return getJSON(base, "/v1/pipelines/"+pipeName, &st) == nil && st.Position == total && st.LagEvents == 0
	})
	stopSpikes()
	wg.Wait()
	sim.SetStatus5xxEvery(0)
	sim.SetMaxlagEvery(0)
	sim.SetLatency(0)
	faultyRequests := sim.Count()

	inputs := readStream(t, base, input)
	q := qualifying(t, cfg, inputs)
	byOutput := map[string]string{} // output id -> input id
	for _, id := range q {
		byOutput[mw.OutputID(id)] = id
	}
	done := map[string]int{} // input id -> outputs and dead letters
	outputs := readStream(t, base, output)
	for _, o := range outputs {
		done[byOutput[metaID(t, o)]]++
	}
	kinds := map[string]int{}
	dead := readStream(t, base, pipeName+".errors")
	for _, raw := range dead {
		var f pipeline.Failure
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		switch {
		case f.Error == "" || len(f.Chain) == 0 || f.Input.ID == "" || len(f.Input.Event) == 0:
			t.Fatalf("a dead letter without its error or input: %s", raw)
		case f.Status == 503 && strings.Contains(f.Body, "Service Temporarily Unavailable"):
			kinds["503 (with the body)"]++
		case strings.Contains(f.Error, "maxlag"):
			kinds["maxlag"]++
		case strings.Contains(f.Error, "Timeout") || strings.Contains(f.Error, "deadline exceeded"):
			kinds["timeout"]++
		default:
			kinds["other: "+f.Error]++
		}
		if f.Attempts != 3 {
			t.Errorf("dead letter after %d attempts: %s", f.Attempts, f.Error)
		}
		done[f.Input.ID]++
	}
	if len(dead) == 0 || len(outputs) == 0 {
		t.Fatalf("%d outputs, %d dead letters: the faults did not bite", len(outputs), len(dead))
	}
	for _, id := range q {
		if done[id] != 1 {
			t.Fatalf("input %s: %d outputs and dead letters, want 1", id, done[id])
		}
	}
	if len(done) != len(q) {
		t.Fatalf("%d inputs have outputs or dead letters, %d qualify", len(done), len(q))
	}
	t.Logf("%d inputs, %d qualifying, %d API requests under faults (%d latency spikes): %d outputs and %d dead letters %v, each input once",
		len(inputs), len(q), faultyRequests, spikes, len(outputs), len(dead), kinds)

	r := operate(t, base, "/v1/pipelines/"+pipeName+"/redrive").Progress
	if r.Done != uint64(len(dead)) || r.Succeeded != uint64(len(dead)) || r.Failed != 0 {
		t.Fatalf("redrive %+v of %d dead letters", r, len(dead))
	}
	if n := infoOf(t, base, pipeName+".errors").Messages; n != 0 {
		t.Fatalf("%d dead letters left after the redrive", n)
	}
	outputs = readStream(t, base, output)
	keys := checkOutputs(t, q, outputs)
	versions := checkTable(t, base, keys)
	t.Logf("redrive: %d of %d dead letters through; %d outputs for %d qualifying inputs, %d table versions equal to their rebuild",
		r.Succeeded, r.Done, len(outputs), len(q), versions)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
