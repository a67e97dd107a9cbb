package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	wikiimages "github.com/sluice-dev/sluice/examples/wiki-images"
	"github.com/sluice-dev/sluice/internal/httpapi"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/source"
)

// The demo runs the embedded project offline, and the commands it prints
// work as printed.
func TestDemo(t *testing.T) {
	data := t.TempDir()
	var out, errOut syncBuffer
	root := newRoot(&out, &errOut)
	root.SetArgs([]string{"demo", "--data", data, "--addr", "127.0.0.1:0", "--progress", "300ms", "--rate", "200", "--api-latency", "1ms"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		http.DefaultClient.CloseIdleConnections()
	}()
	var server string
	for deadline := time.Now().Add(20 * time.Second); server == ""; time.Sleep(20 * time.Millisecond) {
		if m := regexp.MustCompile(`API and UI at (http://\S+)/,`).FindStringSubmatch(out.String()); m != nil {
			server = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner; stderr:\n%s", errOut.String())
		}
	}
	commands := demoCommands(out.String())
	if len(commands) != 2 || commands[0][0] != "tail" || commands[1][0] != "invoke" {
		t.Fatalf("commands: %q\n%s", commands, out.String())
	}
	// The history (an hour of it, 3,600 events) and some live events reach the table.
	var st pipeline.Status
	for deadline := time.Now().Add(60 * time.Second); st.Position < 3700; time.Sleep(100 * time.Millisecond) {
		mustGet(t, server+"/v1/pipelines/wiki_image_list", &st)
		if time.Now().After(deadline) {
			t.Fatalf("pipeline: %+v", st)
		}
	}
	mustRun(t, server, commands[1]...)
	// Then the demo names a page whose images changed, with two commands
	// that show the change and its page in the UI.
	change := regexp.MustCompile(`(?m)^A page whose images changed: .*, key (\S+) of table page_images .*\n(?:.*\n){4}  (http://\S+)$`)
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil; time.Sleep(50 * time.Millisecond) {
		if m = change.FindStringSubmatch(out.String()); m == nil && time.Now().After(deadline) {
			t.Fatalf("no page whose images changed:\n%s", out.String())
		}
	}
	key, link := m[1], m[2]
	if want := server + "/ui/tables/page_images?key=" + url.QueryEscape(key); link != want {
		t.Errorf("UI link %s, want %s", link, want)
	}
	commands = demoCommands(out.String())
	if len(commands) != 4 || commands[2][0] != "table" || commands[3][0] != "table" || commands[2][3] != key || commands[3][3] != key || commands[3][4] != "--at" {
		t.Fatalf("commands: %q\n%s", commands, out.String())
	}
	type pageImages struct {
		PageID    string   `json:"page_id"`
		Title     string   `json:"title"`
		ImageList []string `json:"image_list"`
		Domain    string   `json:"domain"`
		EventTime string   `json:"event_time"`
		Missing   bool     `json:"missing"`
	}
	var lists [2][]string
	for i, c := range commands[2:] {
		out := mustRun(t, server, c...)
		var o pageImages
		if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &o); err != nil || o.PageID == "" || o.Title == "" || len(o.ImageList) == 0 || o.Domain != "en.wikipedia.org" {
			t.Errorf("sluice %s: %q %v", strings.Join(c, " "), out, err)
		}
		lists[i] = o.ImageList
		if i == 1 {
			at, _ := time.Parse(time.RFC3339Nano, c[5])
			if et, err := time.Parse(time.RFC3339Nano, o.EventTime); err != nil || et.After(at) {
				t.Errorf("sluice %s: the version of %s", strings.Join(c, " "), o.EventTime)
			}
		}
	}
	if slices.Equal(lists[0], lists[1]) {
		t.Errorf("%s: the same images now and before the change: %q", key, lists[0])
	}
	// Every key's versions: some change their images, and deleted pages
	// leave a deletion.
	var deletions []string
	for _, l := range strings.Split(strings.TrimSpace(mustRun(t, server, "tail", "wiki.page_images", "-n", "5000")), "\n") {
		var o pageImages
		if json.Unmarshal([]byte(l), &o) == nil && o.Missing && o.PageID != "" {
			deletions = append(deletions, "enwiki:"+o.PageID)
		}
	}
	if len(deletions) == 0 {
		t.Fatal("no page was deleted")
	}
	var hist struct{ Versions []httpapi.TableVersion }
	mustGet(t, server+"/v1/tables/page_images/keys/"+url.PathEscape(deletions[0])+"/history", &hist)
	if !slices.ContainsFunc(hist.Versions, func(v httpapi.TableVersion) bool { return v.Deleted }) {
		t.Errorf("%s: no deletion among %+v", deletions[0], hist.Versions)
	}
	var page struct{ Versions []httpapi.TableVersion }
	mustGet(t, server+"/v1/tables/page_images?limit=1000", &page)
	changed := 0
	for _, v := range page.Versions {
		mustGet(t, server+"/v1/tables/page_images/keys/"+url.PathEscape(v.Key)+"/history", &hist)
		if _, ok := lastChange(hist.Versions); ok {
			changed++
		}
	}
	if changed < len(page.Versions)/2 {
		t.Errorf("%d of %d keys changed their images", changed, len(page.Versions))
	}
	// The recorded events go in unchanged but for their times (and, after
	// the first loop, ids): their wikis are the real ones.
	last := mustRun(t, server, "tail", "wikimedia.recentchange", "-n", "1")
	var ev struct {
		ServerURL string `json:"server_url"`
		Meta      struct{ DT string }
	}
	if err := json.Unmarshal([]byte(last), &ev); err != nil || !strings.HasPrefix(ev.ServerURL, "https://") {
		t.Fatalf("%q %v", last, err)
	}
	if dt, err := time.Parse(time.RFC3339Nano, ev.Meta.DT); err != nil || time.Since(dt) > time.Minute || time.Until(dt) > time.Minute {
		t.Fatalf("the latest event's time %s is not now", ev.Meta.DT)
	}
	var srcs struct{ Sources []source.StatusView }
	mustGet(t, server+"/v1/sources", &srcs)
	if len(srcs.Sources) != 1 || srcs.Sources[0].State != source.Streaming || srcs.Sources[0].DeadLettered != 0 {
		t.Fatalf("sources: %+v", srcs)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(errOut.String(), "| processed: wiki_image_list "); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no progress line:\n%s", errOut.String())
		}
	}
}

// demoCommands are the sluice commands the demo printed so far.
func demoCommands(out string) [][]string {
	var commands [][]string
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "  sluice "); ok {
			commands = append(commands, strings.Fields(rest))
		}
	}
	return commands
}

func mustGet(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func TestDemoClock(t *testing.T) {
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	type at struct {
		n    int64
		want time.Time
	}
	check := func(name string, c *demoClock, ats []at) {
		for _, a := range ats { // the first call anchors the clock
			if got := c.Time(a.n); !got.Equal(a.want) {
				t.Errorf("%s %d: %s, want %s", name, a.n, got, a.want)
			}
		}
	}
	check("fresh", &demoClock{start: start, rate: 50, history: time.Hour, historyN: 3600}, []at{
		{0, start.Add(-time.Hour)}, {1, start.Add(-time.Hour + time.Second)}, {3599, start.Add(-time.Second)},
		{3600, start}, {3650, start.Add(time.Second)},
	})
	check("resumed", &demoClock{start: start, rate: 50, history: time.Hour, historyN: 3600}, []at{
		{500, start}, {550, start.Add(time.Second)}, {499, start.Add(-20 * time.Millisecond)},
	})
	check("no history", &demoClock{start: start, rate: 50}, []at{{0, start}, {50, start.Add(time.Second)}})
}

func TestProgressLine(t *testing.T) {
	lag := 0.42
	now := time.Date(2026, 11, 27, 12, 0, 5, 0, time.UTC)
	srcs := []source.StatusView{{Name: "recentchange", State: source.Streaming, Stored: 12345, DeadLettered: 2}}
	pls := []pipeline.Status{{Name: "wiki_image_list", State: pipeline.Running, Processed: 10234, Filtered: 1011, Failed: 1, LagEvents: 12, LagSeconds: &lag}}
	last := progressCounts{stored: map[string]uint64{"recentchange": 12095}, processed: map[string]uint64{"wiki_image_list": 10024}}
	line, counts := progressLine(now, 5*time.Second, srcs, pls, last)
	want := "12:00:05 in: recentchange 12,345 (+250, 50/s) | processed: wiki_image_list 10,234 (+210, 42/s; 1,011 filtered out) | " +
		"dead-lettered: 3 (recentchange 2, wiki_image_list 1) | lag: wiki_image_list 12 events, 400ms"
	if line != want {
		t.Errorf("\n got %s\nwant %s", line, want)
	}
	if counts.stored["recentchange"] != 12345 || counts.processed["wiki_image_list"] != 10234 {
		t.Errorf("%+v", counts)
	}
	srcs[0].State = source.BackingOff
	line, _ = progressLine(now, 5*time.Second, srcs, nil, progressCounts{})
	if want := fmt.Sprintf("in: recentchange 12,345 (+12,345, 2,469/s) %s | processed: none |", source.BackingOff); !strings.Contains(line, want) {
		t.Errorf("%s: no %q", line, want)
	}
}

// The built-in project's function runs in mode revision, with more
// requests in flight; --function-mode current keeps the project's own
// mode, and a copy of the project (--config) runs as it says.
func TestDemoFunctionMode(t *testing.T) {
	st := &standIns{recorded: [][]byte{[]byte(`{}`)}, feedURL: "http://127.0.0.1:1/v2/stream/recentchange", apiURL: "http://127.0.0.1:2"}
	run := func(mode string, args ...string) map[string]any {
		t.Helper()
		f := &serveFlags{}
		cmd := &cobra.Command{}
		f.register(cmd, demoData)
		cmd.Flags().StringVar(&f.config, "config", "", "")
		if err := cmd.ParseFlags(append([]string{"--data", t.TempDir()}, args...)); err != nil {
			t.Fatal(err)
		}
		cfg, err := demoConfig(cmd, f, st, mode)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Pipelines[demoPipeline].Function.Config
	}
	if c := run(""); c["mode"] != demoMode || c["max_concurrency_per_wiki"] != demoConcurrency || c["api_base"] != st.apiURL {
		t.Errorf("built-in: %v", c)
	}
	if c := run("current"); c["mode"] != "current" || c["max_concurrency_per_wiki"] == demoConcurrency {
		t.Errorf("--function-mode current: %v", c)
	}
	dir := t.TempDir()
	if err := writeFS(dir, wikiimages.Project()); err != nil {
		t.Fatal(err)
	}
	if c := run("", "--config", filepath.Join(dir, "sluice.yaml")); c["mode"] != "current" {
		t.Errorf("--config: %v", c)
	}
}
