package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-dev/sluice/internal/files"
)

// TestFilesSurviveKill9 kills the whole process with SIGKILL, five times,
// while a pipeline's outputs roll into gzipped NDJSON and Parquet objects
// (small objects, five partitions), then lets it finish. In the end the
// objects of each output hold every output event exactly once, in order,
// with no overlapping ranges, and every object parses whole: no partial
// object was ever visible and none was written twice.
func TestFilesSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the crash test")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp") // fileblob's temporary files: a killed write leaves one here
	os.Mkdir(tmp, 0o755)
	os.WriteFile(filepath.Join(dir, "in.json"), []byte(`{"type":"object","required":["meta","n"]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "out.json"), []byte(`{"type":"object","required":["meta","n"],
	  "properties":{"meta":{"type":"object"},"n":{"type":"integer"},"pad":{"type":"string"}}}`), 0o644)
	outs := map[string]string{"ndjson.gz": filepath.Join(dir, "gz"), "parquet": filepath.Join(dir, "pq")}
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, `streams:
  in: {schema: in.json}
  out: {schema: out.json}
pipelines:
  copy:
    from: in
    start: earliest
    function: {name: jq, config: {program: '{meta: {id: (.meta.id + "-out"), dt: .meta.dt}, n, pad}'}}
    max_in_flight: 500
    to:
      - stream: out
      - files:
          url: file://%s
          format: ndjson.gz
          partition: '{{.EventTime.Format "2006/01/02/15"}}'
          roll: {max_bytes: 256KiB, max_age: 1s}
      - files:
          url: file://%s?prefix=events/
          format: parquet
          partition: 'hour={{.EventTime.Format "15"}}'
          roll: {max_bytes: 256KiB, max_age: 1s}
`, outs["ndjson.gz"], outs["parquet"]), 0o644)
	const total = 30000
	skipped := 0 // objects found committed and not acknowledged, in the logs of the killed runs
	var logs *bytes.Buffer
	run := func() (*exec.Cmd, string) {
		logs = &bytes.Buffer{}
		addr := freeAddr(t)
		cmd := exec.Command(bin, "serve", "--config", cfg, "--data", filepath.Join(dir, "data"), "--addr", addr)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, "http://" + addr
	}
	cmd, base := run()
	waitReady(t, base)
	pad := strings.Repeat("x", 150)
	var body bytes.Buffer
	for i := range total {
		fmt.Fprintf(&body, `{"meta":{"id":"e%05d","dt":"2026-11-27T%02d:00:00Z"},"n":%d,"pad":%q}`+"\n", i, 10+i/6000, i, pad)
		if (i+1)%5000 == 0 {
			resp, err := http.Post(base+"/v1/streams/in/events", "application/x-ndjson", bytes.NewReader(body.Bytes()))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("produce: %v %v", resp, err)
			}
			resp.Body.Close()
			body.Reset()
		}
	}
	// Each kill lands while the outputs work: once they have committed
	// another object since the (re)start, after a random short while (a
	// fixed sleep would miss the work on a fast enough machine).
	rng := rand.New(rand.NewPCG(5, 6))
	objects := func() int { return len(objectFiles(t, outs["parquet"])) + len(objectFiles(t, outs["ndjson.gz"])) }
	kills, midRoll, last, finished := 0, 0, 0, false
	for kills < 5 && !finished {
		for deadline := time.Now().Add(60 * time.Second); objects() <= last; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no object past %d in 60 s", last)
			}
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		last = objects() // including any committed between the count and the kill
		skipped += strings.Count(logs.String(), "found an object committed before")
		kills++
		if finished = len(objectIDs(t, outs["parquet"]))+len(objectIDs(t, outs["ndjson.gz"])) >= 2*total; !finished {
			midRoll++
		}
		cmd, base = run()
		waitReady(t, base)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	if midRoll < 3 {
		t.Fatalf("only %d of %d kills hit the files outputs while they worked", midRoll, kills)
	}
	want := make([]string, total)
	for i := range want {
		want[i] = fmt.Sprintf("e%05d-out", i)
	}
	for format, out := range outs {
		var got []string
		for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
			if got = objectIDs(t, out); len(got) >= total {
				break
			}
		}
		if len(got) != total {
			t.Fatalf("%s: after %d kills: %d events in the objects, want %d", format, kills, len(got), total)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: event %d is %s, want %s: a gap, a duplicate or out of order", format, i, got[i], want[i])
			}
		}
		t.Logf("%s: %d objects hold the %d output events exactly once", format, len(objectFiles(t, out)), total)
	}
	left, _ := os.ReadDir(tmp)
	t.Logf("%d kill -9s (%d while the files outputs worked); %d unfinished writes left as temporary files outside the outputs; "+
		"%d objects committed but not acknowledged before a kill were found and skipped", kills, midRoll, len(left), skipped)
}

// objectFiles lists the objects under dir, sorted by the first sequence
// they hold; a file that is not an object (a partial write) fails the test.
func objectFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if _, _, _, ok := files.ParseName(d.Name()); !ok {
			t.Fatalf("not a committed object: %s", path)
		}
		out = append(out, path)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return filepath.Base(out[i]) < filepath.Base(out[j]) })
	return out
}

// objectIDs reads every object under dir, in sequence order, and returns
// the ids of the events they hold; overlapping ranges or an object that
// does not parse whole fail the test.
func objectIDs(t *testing.T, dir string) []string {
	t.Helper()
	var ids []string
	var end uint64
	for _, path := range objectFiles(t, dir) {
		first, last, format, _ := files.ParseName(filepath.Base(path))
		if first <= end {
			var names []string
			for _, p := range objectFiles(t, dir) {
				names = append(names, strings.TrimPrefix(p, dir))
			}
			t.Fatalf("%s overlaps an object that ends at %d:\n%s", path, end, strings.Join(names, "\n"))
		}
		end = last
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if format == files.Parquet {
			got = parquetIDs(t, path, data)
		} else {
			got = gzipIDs(t, path, data)
		}
		if len(got) == 0 || len(got) > int(last-first+1) {
			t.Fatalf("%s holds %d events", path, len(got))
		}
		ids = append(ids, got...)
	}
	return ids
}

func gzipIDs(t *testing.T, path string, data []byte) []string {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: not a whole gzip stream: %v", path, err)
	}
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var e struct{ Meta struct{ ID string } }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Meta.ID == "" {
			t.Fatalf("%s: line %d: %v", path, len(ids)+1, err)
		}
		ids = append(ids, e.Meta.ID)
	}
	return ids
}

func parquetIDs(t *testing.T, path string, data []byte) []string {
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	col, ok := f.Schema().Lookup(files.ColID)
	if !ok {
		t.Fatalf("%s: no column %s", path, files.ColID)
	}
	r := parquet.NewReader(f)
	defer r.Close()
	var ids []string
	rows := make([]parquet.Row, 256)
	for {
		n, err := r.ReadRows(rows)
		for _, row := range rows[:n] {
			for _, v := range row {
				if v.Column() == col.ColumnIndex {
					ids = append(ids, string(v.ByteArray()))
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return ids
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
}
