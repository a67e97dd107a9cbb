package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// held is the simulated MediaWiki API; while hold is set, each request
// waits until released (or the client gives up).
type held struct {
	sim     *mediawiki.Server
	hold    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (h *held) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.hold.Load() {
		select {
		case h.entered <- struct{}{}:
		default:
		}
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
	}
	h.sim.ServeHTTP(w, r)
}

const opsProject = `
streams:
  wikimedia.recentchange:
    schema: %[1]s/testdata/schemas/mediawiki/recentchange/1.0.0.yaml
  wiki.page_images:
    schema: %[1]s/examples/wiki-images/schemas/wiki/page_images.json
    id: /meta/id
    time: /event_time
pipelines:
  images:
    from: wikimedia.recentchange
    start: earliest
    where: 'event.namespace == 0 && event.type in ["edit", "new"]'
    function:
      name: mediawiki.page_images
      config: {user_agent: "sluice-test (ops@example.org)", api_base: "%[2]s", max_attempts: 1, timeout: 2m}
    to:
      - stream: wiki.page_images
      - table: page_images
tables:
  page_images:
    key: 'event.wiki + ":" + event.page_id'
    time: /event_time
`

// Redrive and rebuild answer 202 with a Location to follow; a pipeline runs
// one operation at a time (409 naming the running one, in the document);
// a running operation can be canceled (DELETE), an ended one not (409);
// GET /v1/pipelines/{name} and /v1/operations show it. Every answer
// matches the OpenAPI document.
func TestOperationsOverHTTP(t *testing.T) {
	sim := mediawiki.New(mediawiki.Options{})
	h := &held{sim: sim, entered: make(chan struct{}, 1), release: make(chan struct{})}
	api := httptest.NewServer(h)
	defer api.Close()
	defer sim.Close()
	root, _ := filepath.Abs("../..")
	cfg, err := config.Parse(fmt.Appendf(nil, opsProject, root, api.URL))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, n)
	c := newClient(t, n)

	// Dead letters: the API fails every request for a while.
	sim.SetStatus5xxEvery(1)
	events := recorded(t)[:20]
	if status, _, body := c.call("POST", "/v1/streams/"+rcStream+"/events", "application/x-ndjson", bytes.Join(events, []byte("\n"))); status != 200 {
		t.Fatalf("produce: %d %s", status, body)
	}
	var s pipeline.Status
	waitUntil(t, "the dead letters", func() bool {
		_, _, body := c.call("GET", "/v1/pipelines/images", "", nil)
		s = decode[pipeline.Status](t, body)
		return s.Position >= 20 && s.LagEvents == 0
	})
	if s.Failed == 0 {
		t.Fatalf("no dead letter: %+v", s)
	}
	sim.SetStatus5xxEvery(0)

	// A redrive held in the function: it answered at once, and it is followed.
	h.hold.Store(true)
	status, hdr, body := c.call("POST", "/v1/pipelines/images/redrive", "", nil)
	op := decode[pipeline.Operation](t, body)
	if status != 202 || hdr.Get("Location") != "/v1/operations/"+op.ID || op.State != "running" || op.Kind != "redrive" {
		t.Fatalf("redrive: %d %v %s", status, hdr, body)
	}
	<-h.entered
	status, _, body = c.call("POST", "/v1/tables/page_images/rebuild", "", nil)
	if status != 409 || !strings.Contains(string(body), op.ID) || decode[map[string]any](t, body)["operation"] == nil {
		t.Fatalf("rebuild while the redrive runs: %d %s", status, body)
	}
	if status, _, body = c.call("POST", "/v1/pipelines/images/redrive", "", nil); status != 409 {
		t.Fatalf("a second redrive: %d %s", status, body)
	}
	for _, verb := range []string{"pause", "resume", "reset?to=latest"} {
		if status, _, body = c.call("POST", "/v1/pipelines/images/"+verb, "", nil); status != 200 {
			t.Fatalf("%s while the redrive runs: %d %s", verb, status, body)
		}
	}
	_, _, body = c.call("GET", "/v1/pipelines/images", "", nil)
	if s = decode[pipeline.Status](t, body); s.Operation == nil || s.Operation.ID != op.ID || !s.Operation.Running() {
		t.Fatalf("the pipeline shows %s", body)
	}
	_, _, body = c.call("GET", "/v1/operations", "", nil)
	if list := decode[struct{ Operations []pipeline.Operation }](t, body); len(list.Operations) != 1 || list.Operations[0].ID != op.ID {
		t.Fatalf("operations: %s", body)
	}
	status, _, body = c.call("DELETE", "/v1/operations/"+op.ID, "", nil)
	if op = decode[pipeline.Operation](t, body); status != 200 || op.State != "canceled" || op.Progress.Succeeded != 0 {
		t.Fatalf("cancel: %d %s", status, body)
	}
	if status, _, _ = c.call("DELETE", "/v1/operations/"+op.ID, "", nil); status != 409 {
		t.Fatalf("cancel again: %d", status)
	}
	if status, _, _ = c.call("GET", "/v1/operations/nope", "", nil); status != 404 {
		t.Fatalf("unknown operation: %d", status)
	}

	// Released, a redrive then a rebuild run to their ends.
	h.hold.Store(false)
	for _, path := range []string{"/v1/pipelines/images/redrive", "/v1/tables/page_images/rebuild"} {
		status, hdr, body = c.call("POST", path, "", nil)
		if status != 202 {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		waitUntil(t, path, func() bool {
			status, _, body = c.call("GET", hdr.Get("Location"), "", nil)
			op = decode[pipeline.Operation](t, body)
			return status == 200 && !op.Running()
		})
		if op.State != "succeeded" || op.Finished == nil || op.Progress.Total == nil || *op.Progress.Total != op.Progress.Done {
			t.Fatalf("%s: %s", path, body)
		}
	}
	if status, _, body = c.call("POST", "/v1/tables/nope/rebuild", "", nil); status != 404 {
		t.Fatalf("rebuild of an unknown table: %d %s", status, body)
	}
}

// waitUntil polls cond; the deadline only guards against a hang.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
