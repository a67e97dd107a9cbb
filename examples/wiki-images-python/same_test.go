package wikiimagespython_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/mediawiki"
	"github.com/sluice-dev/sluice/internal/testenv"
	"github.com/sluice-dev/sluice/internal/wikisim/eventstreams"
	sim "github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

const userAgent = "sluice-wiki-images-python-test/1.0 (https://github.com/sluice-dev/sluice; test@example.org)"

// startSim serves the simulated MediaWiki API on loopback, with imlimit
// capped so that pages with many images need continuation.
func startSim(t testing.TB, o sim.Options) (*sim.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := sim.New(o)
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() {
		s.Close()
		hs.Close()
	})
	return s, "http://" + ln.Addr().String()
}

// recordedEvents are the recorded real events (testdata/recentchange),
// deletions on the simulated wiki (one the deletion log lists, one it does
// not, one without a log id) and edge cases of titles and hosts.
func recordedEvents(t testing.TB, s *sim.Server) []json.RawMessage {
	t.Helper()
	raws, err := eventstreams.Load("../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson", "../../testdata/recentchange/capture-2022-12-11.sse")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1690617300, 0)
	s.Wiki().Delete("en.wikipedia.org", "Old article", 151234500, at)
	deletion := func(title string, logID int64) json.RawMessage {
		ev := map[string]any{"$schema": "/mediawiki/recentchange/1.0.0",
			"meta": map[string]any{"id": fmt.Sprintf("del-%d-%s", logID, title), "dt": "2023-07-29T07:55:00Z", "domain": "en.wikipedia.org",
				"stream": "mediawiki.recentchange"},
			"type": "log", "namespace": 0, "title": title, "log_type": "delete", "log_action": "delete",
			"wiki": "enwiki", "server_url": "https://en.wikipedia.org", "server_name": "en.wikipedia.org",
			"server_script_path": "/w", "timestamp": at.Unix()}
		if logID > 0 {
			ev["log_id"] = logID
		}
		b, _ := json.Marshal(ev)
		return b
	}
	out := make([]json.RawMessage, 0, len(raws)+3)
	for _, r := range raws {
		out = append(out, r)
	}
	out = append(out, deletion("Old article", 151234500), deletion("Never deleted", 151234501), deletion("Old article", 0))
	// titles to normalize, redirects, missing and special pages, another wiki, a title the API
	// refuses, titles long enough that a batch goes in a POST; and events that fail in both: a
	// host not allowed, http for a wildcard host, a field of the wrong type, no title
	title := func(t string) func(map[string]any) { return func(ev map[string]any) { ev["title"] = t } }
	changes := []func(map[string]any){
		title("lower case_and_underscores"), title("Redirect to Douglas Adams"), title("Missing page"),
		title("Special:Random"), title("A|B"), title(""),
		func(ev map[string]any) { ev["server_url"], ev["wiki"] = "https://de.wikipedia.org", "dewiki" },
		func(ev map[string]any) { ev["server_url"] = "https://evil.example.com" },
		func(ev map[string]any) { ev["server_url"] = "http://en.wikipedia.org" },
		func(ev map[string]any) { ev["revision"] = map[string]any{"new": "x"} },
		func(ev map[string]any) { delete(ev, "title") },
		func(ev map[string]any) { delete(ev, "revision") },
	}
	for i := range 55 {
		changes = append(changes, title(fmt.Sprintf("A rather long title of an article, long enough that fifty of them make a POST %03d", i)))
	}
	for _, change := range changes {
		var ev map[string]any
		if err := json.Unmarshal(raws[0], &ev); err != nil {
			t.Fatal(err)
		}
		change(ev)
		b, _ := json.Marshal(ev)
		out = append(out, b)
	}
	return out
}

// pythonInvoke runs the Python function on events with sluice_function.invoke,
// as the SDK's unit-test helper calls it: the function's logic, without a
// Runtime API in between.
func pythonInvoke(t testing.TB, config map[string]any, events []json.RawMessage) []function.Result {
	t.Helper()
	in, _ := json.Marshal(map[string]any{"config": config, "events": events})
	script := "import json, sys, sluice_function, wiki_image_list as w\n" +
		"inv = json.load(sys.stdin)\n" +
		"json.dump(sluice_function.invoke(w.handle, inv['events'], inv['config']), sys.stdout)\n"
	cmd := exec.Command(testenv.Python3(t), "-c", script)
	cmd.Dir = "functions"
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.Bytes())
	}
	return decodeAnswer(t, out)
}

func decodeAnswer(t testing.TB, body []byte) []function.Result {
	t.Helper()
	var a struct {
		Results []struct {
			Outputs []json.RawMessage `json:"outputs"`
			Error   *struct {
				Type, Message string
			} `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("answer: %v: %.300s", err, body)
	}
	out := make([]function.Result, len(a.Results))
	for i, r := range a.Results {
		out[i].Outputs = r.Outputs
		if r.Error != nil {
			out[i].Err = fmt.Errorf("%s: %s", r.Error.Type, r.Error.Message)
		}
	}
	return out
}

func builtinCall(t testing.TB, config map[string]any, events []json.RawMessage) []function.Result {
	t.Helper()
	f, err := mediawiki.Spec.New(config)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := f.(io.Closer); ok {
		defer c.Close()
	}
	return f.Call(context.Background(), events)
}

// compare checks that got gives, for every event, what the built-in gave:
// the same outputs but for create_date_time (when the API answered), or an
// error where the built-in has one.
func compare(t *testing.T, events []json.RawMessage, want, got []function.Result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d results, the built-in gives %d", len(got), len(want))
	}
	outputs, errs := 0, 0
	for i := range want {
		w, g := want[i], got[i]
		if (w.Err != nil) != (g.Err != nil) {
			t.Errorf("event %d: error %v, the built-in's %v\n%s", i, g.Err, w.Err, events[i])
			continue
		}
		if w.Err != nil {
			errs++
			t.Logf("event %d: %v (the built-in: %v)", i, g.Err, w.Err)
			continue
		}
		if len(w.Outputs) != len(g.Outputs) {
			t.Errorf("event %d: %d outputs, the built-in gives %d", i, len(g.Outputs), len(w.Outputs))
			continue
		}
		for j := range w.Outputs {
			wo, go_ := normalize(t, w.Outputs[j]), normalize(t, g.Outputs[j])
			if !reflect.DeepEqual(wo, go_) {
				t.Errorf("event %d output %d:\n got  %s\n want %s", i, j, g.Outputs[j], w.Outputs[j])
			}
			outputs++
		}
	}
	t.Logf("%d events: %d outputs and %d errors the same as the built-in's", len(events), outputs, errs)
	if outputs == 0 {
		t.Fatal("no outputs compared")
	}
}

// normalize decodes an output, checks create_date_time's form and leaves it out.
func normalize(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("output %s: %v", raw, err)
	}
	ts, _ := m["create_date_time"].(string)
	if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", ts); err != nil || !strings.HasSuffix(ts, "Z") {
		t.Errorf("create_date_time %q: want RFC 3339 UTC with microseconds", ts)
	}
	delete(m, "create_date_time")
	return m
}

// TestSameAsBuiltin: on the recorded events, against the simulated
// MediaWiki (with continuation forced), the Python function gives exactly
// the built-in mediawiki.page_images's outputs.
func TestSameAsBuiltin(t *testing.T) {
	testenv.Python3(t)
	s, base := startSim(t, sim.Options{ImLimit: 2})
	events := recordedEvents(t, s)
	config := map[string]any{"user_agent": userAgent, "api_base": base, "batch_size": 50}
	want := builtinCall(t, config, events)
	builtinAsked := asked(t, s)
	s.Reset()
	got := pythonInvoke(t, config, events)
	compare(t, events, want, got)
	// and asked the API the same: the same batches of titles, continuations, POSTs, log queries
	if pyAsked := asked(t, s); !reflect.DeepEqual(pyAsked, builtinAsked) {
		t.Errorf("requests:\n got  %v\n want %v", pyAsked, builtinAsked)
	} else {
		t.Logf("the same %d kinds of request as the built-in: %v", len(pyAsked), pyAsked)
	}
}

// asked counts the simulator's requests by what they asked (sorted titles
// included), and checks their User-Agent and maxlag.
func asked(t *testing.T, s *sim.Server) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range s.Requests() {
		if r.UserAgent != userAgent || !r.Maxlag {
			t.Errorf("request %+v: User-Agent %q, maxlag %v", r, r.UserAgent, r.Maxlag)
		}
		titles := slices.Clone(r.Titles)
		slices.Sort(titles)
		key := fmt.Sprintf("%s %s %s list=%s continue=%v titles=%d:%s", r.Method, r.Host, r.Action, r.List,
			r.IMContinue != "", len(titles), strings.Join(titles, "|"))
		out[key]++
	}
	return out
}
