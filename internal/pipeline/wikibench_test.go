package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// The flagship pipeline against the simulated MediaWiki API with 50 ms per
// request, beside a faithful port of the proof of concept's function (one
// request per event, sequential), in the same run:
//
//	go test -run '^$' -bench WikiImageList -benchtime 1x ./internal/pipeline/

var wikis = []string{"en", "de", "fr", "es", "it", "ja", "ru", "pt", "zh", "pl", "nl", "sv", "uk", "ar", "fa", "he", "id", "ko", "vi", "cs"}

// benchEvents makes n recorded-shape edit events over 20 wikis; about 40%
// of them edit a page edited before.
func benchEvents(b *testing.B, n int, sim string) [][]byte {
	b.Helper()
	data, err := os.ReadFile("../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson")
	if err != nil {
		b.Fatal(err)
	}
	var templates []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			b.Fatal(err)
		}
		templates = append(templates, m)
	}
	out := make([][]byte, n)
	for i := range n {
		m := templates[i%len(templates)]
		w := wikis[i%len(wikis)]
		host := w + ".wikipedia.org"
		page := i % (n * 6 / 10) // 60% distinct pages
		e := map[string]any{}
		for k, v := range m {
			e[k] = v
		}
		meta := map[string]any{}
		for k, v := range m["meta"].(map[string]any) {
			meta[k] = v
		}
		meta["id"] = fmt.Sprintf("bench-%08d", i)
		meta["domain"] = host
		e["meta"] = meta
		e["type"], e["namespace"] = "edit", 0
		e["wiki"] = w + "wiki"
		e["title"] = fmt.Sprintf("%s %d", m["title"], page)
		e["server_url"] = sim + "/" + host
		e["server_name"] = host
		e["server_script_path"] = "/w"
		out[i], _ = json.Marshal(e)
	}
	return out
}

const benchProject = `
streams:
  wikimedia.recentchange:
    schema: %[1]s/testdata/schemas/mediawiki/recentchange/1.0.0.yaml
  wiki.page_images:
    schema: %[1]s/examples/wiki-images/schemas/wiki/page_images.json
    time: /event_time
pipelines:
  wiki_image_list:
    from: wikimedia.recentchange
    start: earliest
    where: 'event.type in ["edit", "new"] && event.namespace == 0'
    function:
      name: mediawiki.page_images
      config:
        user_agent: "sluice-bench (ops@example.org)"
        allowed_hosts: ["%[2]s"]
    to:
      - stream: wiki.page_images
`

func BenchmarkWikiImageListPipeline(b *testing.B) {
	const n = 20000
	sim := mediawiki.New(mediawiki.Options{Latency: 50 * time.Millisecond})
	hs := httptest.NewServer(sim)
	defer func() { sim.Close(); hs.Close() }()
	events := benchEvents(b, n, hs.URL)
	root, _ := filepath.Abs("../..")
	for range b.N {
		data := b.TempDir()
		start := func(withPipeline bool) *node.Node {
			doc := fmt.Sprintf(benchProject, root, hs.Listener.Addr().String())
			cfg, err := config.Parse([]byte(doc))
			if err != nil {
				b.Fatal(err)
			}
			if !withPipeline {
				cfg.Pipelines = nil
			}
			cfg.Data, cfg.Addr = data, "127.0.0.1:0"
			nd, err := node.Start(context.Background(), cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			return nd
		}
		// The input is stored first, then the pipeline works through it.
		nd := start(false)
		for i := 0; i < n; i += 1000 {
			if _, err := nd.Streams.Produce(context.Background(), "wikimedia.recentchange", events[i:i+1000]); err != nil {
				b.Fatal(err)
			}
		}
		nd.Shutdown(context.Background())
		sim.Reset()
		b.ResetTimer()
		t0 := time.Now()
		nd = start(true)
		for {
			s, _ := nd.Pipelines.Get("wiki_image_list")
			if s.Position >= n && s.LagEvents == 0 {
				if s.Processed != n || s.Failed != 0 {
					b.Fatalf("status %+v", s)
				}
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		secs := time.Since(t0).Seconds()
		b.StopTimer()
		reqs := sim.Count()
		nd.Shutdown(context.Background())
		http.DefaultClient.CloseIdleConnections()
		b.ReportMetric(n/secs, "events/s")
		b.ReportMetric(float64(reqs)*1000/n, "requests/1000ev")
		b.ReportMetric(0, "ns/op")
	}
}

// BenchmarkWikiImageListSeedPort is the proof of concept's function, ported
// faithfully in its cost: for each event, one request, one after another.
// (The seed also asked en.wikipedia.org whatever the event's wiki and did
// not encode titles; the port asks the event's wiki with an encoded title,
// which costs the same, so both runs do the same work.)
func BenchmarkWikiImageListSeedPort(b *testing.B) {
	const n = 200 // 50 ms each: ten seconds
	sim := mediawiki.New(mediawiki.Options{Latency: 50 * time.Millisecond})
	hs := httptest.NewServer(sim)
	defer func() { sim.Close(); hs.Close() }()
	events := benchEvents(b, n, hs.URL)
	client := &http.Client{Timeout: 30 * time.Second}
	for range b.N {
		sim.Reset()
		t0 := time.Now()
		for _, raw := range events {
			var e struct {
				Title     string `json:"title"`
				ServerURL string `json:"server_url"`
			}
			json.Unmarshal(raw, &e)
			u := e.ServerURL + "/w/api.php?action=query&prop=images&format=json&titles=" + url.QueryEscape(e.Title)
			resp, err := client.Get(u)
			if err != nil {
				b.Fatal(err)
			}
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
		}
		secs := time.Since(t0).Seconds()
		b.ReportMetric(n/secs, "events/s")
		b.ReportMetric(float64(sim.Count())*1000/n, "requests/1000ev")
		b.ReportMetric(0, "ns/op")
	}
}
