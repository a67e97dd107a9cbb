package node_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
)

// TestFilesOutput runs a pipeline with a stream and a files output: its
// outputs land in gzipped NDJSON objects partitioned by event hour, the
// sink's state is in Node.Files and its metrics at /metrics.
func TestFilesOutput(t *testing.T) {
	dir := t.TempDir()
	for name, doc := range map[string]string{
		"in.json":  `{"type":"object","required":["meta"]}`,
		"out.json": `{"type":"object","required":["meta","n"]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "objects")
	cfg, err := config.Parse(fmt.Appendf(nil, `
streams:
  in: {schema: %[1]s/in.json}
  out: {schema: %[1]s/out.json}
pipelines:
  copy:
    from: in
    start: earliest
    function: {name: jq, config: {program: '{meta: {id: (.meta.id + "-o"), dt: .meta.dt}, n}'}}
    to:
      - stream: out
      - files:
          url: file://%[2]s?prefix=copy/
          format: ndjson.gz
          partition: '{{.EventTime.Format "2006/01/02/15"}}'
          roll: {max_age: 200ms}
`, dir, out))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = filepath.Join(dir, "data"), "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		http.DefaultClient.CloseIdleConnections()
	}()
	var body bytes.Buffer
	for i := range 30 {
		fmt.Fprintf(&body, `{"meta":{"id":"e%02d","dt":"2026-11-27T%02d:00:00Z"},"n":%d}`+"\n", i, 10+i/10, i)
	}
	resp, err := http.Post("http://"+n.Addr()+"/v1/streams/in/events", "application/x-ndjson", &body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("produce: %v %v", resp, err)
	}
	resp.Body.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if st := n.Files.List(); len(st) == 1 && st[0].Position == 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("files output: %+v", n.Files.List())
		}
	}
	want := []string{
		"copy/2026/11/27/10/00000000000000000001-00000000000000000010.ndjson.gz",
		"copy/2026/11/27/11/00000000000000000011-00000000000000000020.ndjson.gz",
		"copy/2026/11/27/12/00000000000000000021-00000000000000000030.ndjson.gz",
	}
	lines := 0
	for _, name := range want {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		lines += strings.Count(string(b), `-o"`)
	}
	if lines != 30 {
		t.Fatalf("%d events in the objects, want 30", lines)
	}
	st := n.Files.List()[0]
	if st.Pipeline != "copy" || st.Stream != "out" || st.Objects != 3 || st.Events != 30 || st.LastObject != strings.TrimPrefix(want[2], "copy/") {
		t.Fatalf("status: %+v", st)
	}
	resp, err = http.Get("http://" + n.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{
		fmt.Sprintf(`sluice_files_objects_total{pipeline="copy",url="file://%s?prefix=copy%%2F"} 3`, out),
		`sluice_files_last_committed_seq{pipeline="copy"`,
	} {
		if !strings.Contains(string(metrics), m) {
			t.Fatalf("no %s in /metrics", m)
		}
	}
}
