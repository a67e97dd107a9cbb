package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// TestWikiPipelineSurvivesKill9 kills the process with SIGKILL while the
// flagship pipeline has batches in flight against the simulated MediaWiki
// API (20 ms per request), five times: every input ends with one output.
func TestWikiPipelineSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the crash test")
	}
	bin := buildBinary(t)
	sim := mediawiki.New(mediawiki.Options{Latency: 20 * time.Millisecond})
	hs := httptest.NewServer(sim)
	defer func() { sim.Close(); hs.Close() }()
	root, _ := filepath.Abs("../..")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`streams:
  wikimedia.recentchange: {schema: %[1]s/testdata/schemas/mediawiki/recentchange/1.0.0.yaml}
  wiki.page_images: {schema: %[1]s/examples/wiki-images/schemas/wiki/page_images.json, time: /event_time}
pipelines:
  wiki_image_list:
    from: wikimedia.recentchange
    start: earliest
    function:
      name: mediawiki.page_images
      config: {user_agent: "sluice-test (ops@example.org)", allowed_hosts: ["%[2]s"]}
    max_in_flight: 300
    to: [{stream: wiki.page_images}]
`, root, hs.Listener.Addr().String())), 0o644)
	run := func() (*exec.Cmd, string) {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "serve", "--config", cfg, "--data", filepath.Join(dir, "data"), "--addr", addr)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, "http://" + addr
	}
	const total = 3000
	base := `{"$schema":"/mediawiki/recentchange/1.0.0","meta":{"id":"w%05d","dt":"2026-11-27T10:00:00Z","stream":"mediawiki.recentchange"},` +
		`"type":"edit","namespace":0,"title":"Page %d","wiki":"enwiki","server_url":"%s/en.wikipedia.org","server_script_path":"/w","revision":{"new":%d}}` + "\n"
	cmd, url := run()
	waitReady(t, url)
	var body bytes.Buffer
	for i := range total {
		fmt.Fprintf(&body, base, i, i, hs.URL, 1000+i)
	}
	resp, err := http.Post(url+"/v1/streams/wikimedia.recentchange/events", "application/x-ndjson", &body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("produce: %v %v", resp, err)
	}
	resp.Body.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	midWork := 0
	for range 5 {
		time.Sleep(time.Duration(50+rng.IntN(300)) * time.Millisecond)
		if n := countLines(t, url, "wiki.page_images"); n > 0 && n < total {
			midWork++
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		cmd, url = run()
		waitReady(t, url)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	if midWork < 3 {
		t.Fatalf("only %d of 5 kills hit the pipeline at work", midWork)
	}
	var titles []string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if titles = outputTitles(t, url); len(titles) >= total {
			break
		}
	}
	if len(titles) != total {
		t.Fatalf("%d outputs, want %d", len(titles), total)
	}
	for i, title := range titles {
		if title != fmt.Sprintf("Page %d", i) {
			t.Fatalf("output %d is for %q: a gap, a duplicate or out of order", i, title)
		}
	}
	t.Logf("%d inputs, %d outputs once each after 5 kill -9s (%d mid-work), %d API requests", total, len(titles), midWork, sim.Count())
}

func outputTitles(t *testing.T, base string) []string {
	t.Helper()
	var out []string
	since := "earliest"
	for {
		resp, err := http.Get(base + "/v1/streams/wiki.page_images/events?limit=10000&since=" + since)
		if err != nil {
			return out
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		n := 0
		for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
			var o struct{ Title string }
			if json.Unmarshal([]byte(l), &o) == nil {
				out = append(out, o.Title)
				n++
			}
		}
		next := resp.Header.Get("Sluice-Next")
		if n == 0 || next == since {
			return out
		}
		since = next
	}
}
