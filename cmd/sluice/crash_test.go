package main

import (
	"bufio"
	"bytes"
	"crypto/sha1"
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

	"github.com/sluice-dev/sluice/internal/wikisim/eventstreams"
)

// TestSourceSurvivesKill9 ingests a recorded feed through a connection
// that is cut every few dozen events, while the whole sluice process is
// killed with SIGKILL at random moments and restarted. At the end the
// stream holds every event exactly once, in feed order.
func TestSourceSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the crash test")
	}
	bin := buildBinary(t)
	events, want := syntheticFeed(t, 6)
	es := eventstreams.New(events, eventstreams.Options{Rate: 150, DropEvery: 37})
	feed := httptest.NewServer(es)
	defer func() { es.Close(); feed.Close() }()

	dir := t.TempDir()
	schema, _ := filepath.Abs("../../testdata/schemas/mediawiki/recentchange/1.0.0.yaml")
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`streams:
  wikimedia.recentchange:
    schema: %s
sources:
  recentchange:
    sse:
      url: %s/v2/stream/recentchange
      user_agent: "sluice-test/0 (crash test; ops@example.org)"
      max_backoff: 200ms
    to: wikimedia.recentchange
`, schema, feed.URL)), 0o644)
	rng := rand.New(rand.NewPCG(7, 9))
	run := func() (*exec.Cmd, string, *bytes.Buffer) {
		addr := freeAddr(t)
		var logs bytes.Buffer
		cmd := exec.Command(bin, "serve", "--config", cfg, "--data", filepath.Join(dir, "data"), "--addr", addr)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, "http://" + addr, &logs
	}
	kills, midIngest := 0, 0
	for range 5 {
		cmd, base, _ := run()
		waitReady(t, base)
		time.Sleep(time.Duration(100+rng.IntN(700)) * time.Millisecond)
		if n := len(readIDs(t, base)); n > 0 && n < len(want) {
			midIngest++
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		kills++
	}
	if midIngest < 3 {
		t.Fatalf("only %d of %d kills hit the ingest while it ran", midIngest, kills)
	}
	cmd, base, logs := run()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	waitReady(t, base)
	var got []string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = readIDs(t, base); len(got) >= len(want) {
			break
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after %d kills: stream has %d events, want %d, each once in feed order\n%s", kills, len(got), len(want), logs.String())
	}
	t.Logf("%d events exactly once after %d kill -9s (%d mid-ingest) and %d feed connections", len(got), kills, midIngest, es.Connections())
}

// syntheticFeed repeats the recorded events with fresh ids and later times.
func syntheticFeed(t *testing.T, copies int) ([][]byte, []string) {
	t.Helper()
	base, err := eventstreams.Load("../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	var events [][]byte
	var ids []string
	for k := range copies {
		for _, e := range base {
			var v map[string]any
			if err := json.Unmarshal(e, &v); err != nil {
				t.Fatal(err)
			}
			meta := v["meta"].(map[string]any)
			h := sha1.Sum([]byte(fmt.Sprint(meta["id"], k)))
			id := fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
			dt, _ := time.Parse(time.RFC3339, meta["dt"].(string))
			meta["id"], meta["dt"] = id, dt.Add(time.Duration(k)*10*time.Minute).Format(time.RFC3339)
			b, _ := json.Marshal(v)
			events, ids = append(events, b), append(ids, id)
		}
	}
	return events, ids
}

func readIDs(t *testing.T, base string) []string {
	t.Helper()
	var out []string
	since := "earliest"
	for {
		resp, err := http.Get(base + "/v1/streams/wikimedia.recentchange/events?limit=10000&since=" + since)
		if err != nil {
			return out
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 8<<20)
		n := 0
		for sc.Scan() {
			var v struct {
				Meta struct{ ID string } `json:"meta"`
			}
			if json.Unmarshal(sc.Bytes(), &v) == nil {
				out = append(out, v.Meta.ID)
			}
			n++
		}
		resp.Body.Close()
		next := resp.Header.Get("Sluice-Next")
		if n == 0 || next == since {
			return out
		}
		since = next
	}
}
