package files

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine/jetstream"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// idle keep-alive connections of the S3 client's HTTP transport
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// outSchema is the output stream's schema in these tests.
const outSchema = `{"type":"object","required":["meta","n"],"properties":{
  "meta":{"type":"object","properties":{"id":{"type":"string"},"dt":{"type":"string","format":"date-time"}}},
  "n":{"type":"integer"},"name":{"type":"string"},"score":{"type":"number"},"ok":{"type":"boolean"},
  "tags":{"type":"array","items":{"type":"string"}},"maybe":{"type":["integer","null"]},"ref":{"$ref":"#/$defs/word"}},
  "$defs":{"word":{"type":"string"}}}`

// newService runs an embedded engine with the stream "out".
func newService(t testing.TB) *stream.Service {
	t.Helper()
	ctx := context.Background()
	e, err := jetstream.Open(ctx, jetstream.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	cat, err := catalog.Open(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	svc := stream.New(e, cat, nil, nil)
	b, err := schema.FromDocument("urn:out", []byte(outSchema))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, catalog.Stream{Name: "out", ID: "/meta/id", Time: "/meta/dt"}, b); err != nil {
		t.Fatal(err)
	}
	return svc
}

// ev is test event i at time t.
func ev(i int, t time.Time) []byte {
	return fmt.Appendf(nil, `{"meta":{"id":"e%06d","dt":%q},"n":%d,"name":"event %d","score":%d.5,"ok":%v,"tags":["a","b%d"],"maybe":null,"ref":"w%d","more":{"x":%d}}`,
		i, t.UTC().Format(time.RFC3339Nano), i, i, i, i%2 == 0, i, i, i)
}

// produce writes events as the pipeline "p" (or as origin when given).
func produce(t testing.TB, svc *stream.Service, origin string, raws ...[]byte) {
	t.Helper()
	for len(raws) > 0 {
		n := min(len(raws), 1000)
		res, err := svc.ProduceFrom(context.Background(), "out", stream.Origin{Name: origin}, raws[:n])
		if err != nil || len(res.Invalid) > 0 || res.Accepted != n {
			t.Fatalf("produce: %+v %v", res, err)
		}
		raws = raws[n:]
	}
}

// start runs a sink of pipeline "p" on "out" until the test ends or stop is called.
func start(t testing.TB, svc *stream.Service, cfg Config) (s *Sink, stop func()) {
	t.Helper()
	s, err := New(context.Background(), svc, cfg, Options{Pipeline: "p", Stream: "out"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			s.Close()
		}
	}
	t.Cleanup(stop)
	return s, stop
}

// waitFor polls cond for up to 30 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// objects lists the object files under dir, relative and sorted; any
// other file fails the test (a partial or temporary object).
func objects(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if _, _, _, ok := ParseName(filepath.Base(rel)); !ok {
			t.Errorf("not an object: %s", rel)
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// decode reads an object of any format back as one JSON document per event.
func decode(t testing.TB, name string, data []byte) []map[string]any {
	t.Helper()
	switch {
	case strings.HasSuffix(name, ".parquet"):
		return readParquet(t, data)
	case strings.HasSuffix(name, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: line %d: %v", name, len(out)+1, err)
		}
		out = append(out, m)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s: the last line is cut", name)
	}
	return out
}

// readParquet reads every row of a Parquet object as a map of column to value.
func readParquet(t testing.TB, data []byte) []map[string]any {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("parquet: %v", err)
	}
	fields := f.Schema().Fields()
	r := parquet.NewReader(f)
	defer r.Close()
	var out []map[string]any
	rows := make([]parquet.Row, 64)
	for {
		n, err := r.ReadRows(rows)
		for _, row := range rows[:n] {
			m := map[string]any{}
			for _, v := range row {
				name := fields[v.Column()].Name()
				switch {
				case v.IsNull():
					m[name] = nil
				case v.Kind() == parquet.ByteArray:
					m[name] = string(v.ByteArray())
				case v.Kind() == parquet.Int64:
					m[name] = v.Int64()
				case v.Kind() == parquet.Double:
					m[name] = v.Double()
				case v.Kind() == parquet.Boolean:
					m[name] = v.Boolean()
				default:
					t.Fatalf("column %s: unexpected kind %v", name, v.Kind())
				}
			}
			out = append(out, m)
		}
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("parquet rows: %v", err)
		}
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
