package wikiimagespython_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/testenv"
	sim "github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// BenchmarkWikiImageList compares the Python function, run by a node as a
// process function (2 instances, batches of 100), with the built-in
// mediawiki.page_images, both invoked over the node's HTTP API
// (POST /v1/functions/NAME/invoke) with batches of 100 recorded enwiki
// events (titles made new per batch), against the simulated MediaWiki API
// answering after 50 ms (and, to show the functions' own cost, at once).
// Reports events/s and the latency per batch, with one client and with two
// at once:
//
//	go test -run '^$' -bench WikiImageList -benchtime 30x ./examples/wiki-images-python/
func BenchmarkWikiImageList(b *testing.B) {
	testenv.Python3(b)
	s, base := startSim(b, sim.Options{Latency: 50 * time.Millisecond})
	here, _ := filepath.Abs(".")
	dir := b.TempDir()
	fnConfig := map[string]any{"user_agent": userAgent, "api_base": base}
	doc := map[string]any{
		"data": filepath.Join(dir, "data"), "addr": "127.0.0.1:0",
		"functions": map[string]any{
			"wiki_py": map[string]any{
				"process":   map[string]any{"command": []string{"python3", filepath.Join(here, "functions/wiki_image_list.py")}, "instances": 2, "timeout": "60s"},
				"config":    fnConfig,
				"max_batch": 100,
			},
			// The built-in, named with the same config (api_base is the
			// operator's: an invoke request may not set it). One named
			// function serves every call with one per-wiki limit, where the
			// Python one holds its limit per process: 2 instances x 2.
			"wiki_go": map[string]any{"kind": "mediawiki.page_images",
				"config": map[string]any{"user_agent": userAgent, "api_base": base, "max_concurrency_per_wiki": 4}},
		},
	}
	raw, _ := json.Marshal(doc) // JSON is YAML
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		benchClient.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	recorded := recordedEvents(b, s)[:100]
	url := "http://" + n.Addr() + "/v1/functions/"
	for _, latency := range []time.Duration{50 * time.Millisecond, 0} {
		s.SetLatency(latency)
		for _, fn := range []struct{ name, path string }{{"builtin", "wiki_go"}, {"python", "wiki_py"}} {
			for _, clients := range []int{1, 2} {
				b.Run(fmt.Sprintf("api=%s/%s/clients=%d", latency, fn.name, clients), func(b *testing.B) {
					benchInvoke(b, url+fn.path+"/invoke", recorded, clients)
				})
			}
		}
	}
}

// benchInvoke posts b.N batches (recorded, retitled), from clients at once.
func benchInvoke(b *testing.B, url string, recorded []json.RawMessage, clients int) {
	batch := 0
	var mu sync.Mutex
	next := func() []json.RawMessage { // new titles for every batch: nothing is answered twice
		mu.Lock()
		defer mu.Unlock()
		batch++
		return retitle(b, recorded, batch)
	}
	invoke(b, url, next()) // started, connections open
	var lat []time.Duration
	jobs := make(chan []json.RawMessage)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for events := range jobs {
				t0 := time.Now()
				invoke(b, url, events)
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		})
	}
	for range b.N {
		jobs <- next()
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N*len(recorded))/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms/batch")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms/batch")
	b.ReportMetric(0, "ns/op")
}

// benchClient keeps its connections to the node; closed after the benchmark.
var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}

// retitle gives the events titles of their own for batch k.
func retitle(b *testing.B, events []json.RawMessage, k int) []json.RawMessage {
	out := make([]json.RawMessage, len(events))
	for i, e := range events {
		var m map[string]any
		if err := json.Unmarshal(e, &m); err != nil {
			b.Fatal(err)
		}
		if t, ok := m["title"].(string); ok {
			m["title"] = fmt.Sprintf("%s %d", t, k)
		}
		if meta, ok := m["meta"].(map[string]any); ok {
			meta["id"] = fmt.Sprintf("%v-%d", meta["id"], k)
		}
		out[i], _ = json.Marshal(m)
	}
	return out
}

// invoke posts one batch and checks that every event gave one output.
func invoke(b *testing.B, url string, events []json.RawMessage) {
	body, _ := json.Marshal(map[string]any{"events": events})
	resp, err := benchClient.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Error(err)
		return
	}
	defer resp.Body.Close()
	var res struct {
		Results []struct {
			Outputs []json.RawMessage `json:"outputs"`
			Error   string            `json:"error"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != http.StatusOK {
		b.Errorf("%s: HTTP %d: %v", url, resp.StatusCode, err)
		return
	}
	for i, r := range res.Results {
		if r.Error != "" || len(r.Outputs) != 1 {
			b.Errorf("%s: event %d: %d outputs, error %q", url, i, len(r.Outputs), r.Error)
			return
		}
	}
	if len(res.Results) != len(events) {
		b.Errorf("%s: %d results for %d events", url, len(res.Results), len(events))
	}
}
