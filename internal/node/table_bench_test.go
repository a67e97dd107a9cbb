package node_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/table"
)

// The temporal table benchmark (issue #5):
//
//	go test -run '^$' -bench TableLookup -benchtime 1x ./internal/node/
//
// A node with one table on its default store (SQLite under the data
// directory) is loaded with 1,000,000 versions over 100,000 keys. Then the
// same random (key, time) lookups are issued over HTTP (GET
// /v1/tables/{name}/keys/{key}?at=T) and directly to the store (Get), each
// with four concurrent clients:
//
//   - HTTP: net/http.Client, keep-alive;
//   - HTTPMinimal: one kept-alive connection per client, the request
//     written by hand and the response read with http.ReadResponse, so the
//     client costs less of the two cores it shares with the server;
//   - Direct: Tables.Get on the node's store;
//   - HTTPFixed: the minimal client against a bare net/http server that
//     answers every request with the same body, of the size of a lookup's,
//     without a store: what HTTP alone costs on this machine;
//   - Cores: the node reopened in a child process held to one CPU, which
//     looks up directly, then serves the lookups (and then a fixed answer)
//     over HTTP to the minimal client held to the other CPU: the server and
//     the direct lookups get the same CPU, the client does not take from it
//     (see table_bench_cores_test.go).
//
// Before anything is timed, both clients and the store are checked to agree,
// the load's files are flushed to disk, and every path is warmed up with
// other lookups. The write rate is the versions divided by the time spent in
// Put over the whole load; it is also logged for each tenth of the load.

const (
	tbTable    = "page_images"
	tbKeys     = 100_000
	tbVersions = 10
	tbBatch    = 1_000
	tbQueries  = 20_000 // per b.N, per sub-benchmark
	tbClients  = 4
	tbStep     = time.Second // between two consecutive versions in the load
)

var tbT0 = time.Date(2023, 7, 29, 0, 0, 0, 0, time.UTC)

// tbData is the loaded table: version v of key slot s is write number
// v*tbKeys + s, at tbT0 + that number of seconds. The slots hold the keys in
// a shuffled order, so writes do not arrive in key order.
type tbData struct {
	keys []string // by slot
}

func tbKey(pageID int) string { return "enwiki:" + strconv.Itoa(pageID) }

// tbValue is a realistic page_images value, about 150 bytes.
func tbValue(buf []byte, pageID, v int) []byte {
	id := strconv.Itoa(pageID)
	buf = buf[:0]
	buf = append(buf, `{"wiki":"enwiki","page_id":"`...)
	buf = append(buf, id...)
	buf = append(buf, `","title":"Page `...)
	buf = append(buf, id...)
	buf = append(buf, `","rev_id":`...)
	buf = strconv.AppendInt(buf, int64(v), 10)
	buf = append(buf, `,"image_list":["File:Map_of_`...)
	buf = append(buf, id...)
	buf = append(buf, `.svg","File:Photo_`...)
	buf = strconv.AppendInt(buf, int64(v), 10)
	buf = append(buf, `.jpg","File:Commons-logo.svg"]}`...)
	return buf
}

// tbLoad writes the versions in batches of tbBatch, in time order, and
// returns the time spent in Put, in all and per tenth of the load.
func tbLoad(b *testing.B, st table.Store) (*tbData, time.Duration, []time.Duration) {
	b.Helper()
	d, ids := tbLoadKeys()
	ctx := context.Background()
	batch := make([]table.Write, 0, tbBatch)
	var spent time.Duration
	tenths := make([]time.Duration, 10)
	var buf []byte
	for i := range tbKeys * tbVersions {
		s, v := i%tbKeys, i/tbKeys
		buf = tbValue(buf, 1_000_000+ids[s], v)
		batch = append(batch, table.Write{Key: d.keys[s], ValidFrom: tbT0.Add(time.Duration(i) * tbStep),
			Value: slices.Clone(buf), Stream: "wiki.page_images", Seq: uint64(i + 1)})
		if len(batch) == tbBatch {
			start := time.Now()
			if err := st.Put(ctx, tbTable, batch); err != nil {
				b.Fatal(err)
			}
			took := time.Since(start)
			spent += took
			tenths[i*10/(tbKeys*tbVersions)] += took
			batch = batch[:0]
		}
	}
	return d, spent, tenths
}

// tbLoadKeys returns the keys of the load by slot, and their page ids.
func tbLoadKeys() (*tbData, []int) {
	ids := rand.New(rand.NewPCG(5, 5)).Perm(tbKeys)
	d := &tbData{keys: make([]string, tbKeys)}
	for s := range d.keys {
		d.keys[s] = tbKey(1_000_000 + ids[s])
	}
	return d, ids
}

type tbQuery struct {
	key string
	at  time.Time
}

// queries returns n random lookups (seeded): a random key at a time
// uniformly within its versions' span, from its first version to one step
// past its last, so each of its ten versions is hit about equally.
func (d *tbData) queries(seed uint64, n int) []tbQuery {
	r := rand.New(rand.NewPCG(seed, seed))
	qs := make([]tbQuery, n)
	span := int64(tbVersions * tbKeys * tbStep / time.Second)
	for i := range qs {
		s := r.IntN(tbKeys)
		qs[i] = tbQuery{key: d.keys[s], at: tbT0.Add(time.Duration(int64(s)+r.Int64N(span)) * time.Second)}
	}
	return qs
}

// tbRun issues the queries with tbClients concurrent clients and reports
// queries/s, p50 and p99. do runs one query for client number c.
func tbRun(b *testing.B, what string, qs []tbQuery, do func(c int, q tbQuery) error) {
	b.Helper()
	b.ResetTimer()
	lat, elapsed, err := tbIssue(qs, do)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	qps := float64(len(qs)) / elapsed.Seconds()
	p50, p99 := lat[len(lat)*50/100], lat[len(lat)*99/100]
	b.ReportMetric(qps, "queries/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
	b.Logf("%s: %d queries, %d clients: %.0f queries/s, p50 %v, p99 %v, max %v",
		what, len(qs), tbClients, qps, p50, p99, lat[len(lat)-1])
}

// tbIssue issues the queries with tbClients concurrent clients and returns
// their latencies and the time they took.
func tbIssue(qs []tbQuery, do func(c int, q tbQuery) error) ([]time.Duration, time.Duration, error) {
	return tbIssueBy(tbClients, qs, do)
}

// tbIssueBy is tbIssue with the given number of clients.
func tbIssueBy(clients int, qs []tbQuery, do func(c int, q tbQuery) error) ([]time.Duration, time.Duration, error) {
	lat := make([]time.Duration, len(qs))
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(qs) {
					return
				}
				t := time.Now()
				if err := do(c, qs[i]); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				lat[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	err, _ := failed.Load().(error)
	return lat, time.Since(start), err
}

// tbConn is a minimal HTTP/1.1 client on one kept-alive connection: it
// writes each GET itself and reads the response with http.ReadResponse, in
// the calling goroutine (net/http.Client hands every request to a writer
// and a reader goroutine of the connection).
type tbConn struct {
	host string
	c    net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func tbDial(addr string) (*tbConn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &tbConn{host: addr, c: c, r: bufio.NewReader(c), w: bufio.NewWriter(c)}, nil
}

// get requests path and returns the status and the body.
func (c *tbConn) get(path string) (int, []byte, error) {
	c.w.WriteString("GET ")
	c.w.WriteString(path)
	c.w.WriteString(" HTTP/1.1\r\nHost: ")
	c.w.WriteString(c.host)
	c.w.WriteString("\r\n\r\n")
	if err := c.w.Flush(); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Close {
		return 0, nil, fmt.Errorf("GET %s: the server closed the connection", path)
	}
	return resp.StatusCode, body, err
}

// tbDialAll opens one tbConn per client.
func tbDialAll(b *testing.B, addr string) []*tbConn {
	b.Helper()
	cs := make([]*tbConn, tbClients)
	for i := range cs {
		c, err := tbDial(addr)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.c.Close() })
		cs[i] = c
	}
	return cs
}

// tbGetOn returns a lookup over HTTP by client c on conns[c].
func tbGetOn(conns []*tbConn) func(c int, q tbQuery) error {
	return func(c int, q tbQuery) error {
		status, _, err := conns[c].get(tbPath(q))
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("%s at %s: status %d", q.key, q.at, status)
		}
		return err
	}
}

// tbPath is the HTTP path of a lookup.
func tbPath(q tbQuery) string {
	return "/v1/tables/" + tbTable + "/keys/" + url.PathEscape(q.key) + "?at=" + q.at.Format(time.RFC3339)
}

// tbConfig is the node's configuration: the benchmark's and the child's.
func tbConfig(dir string) (*config.Config, error) {
	cfg, err := config.Parse([]byte("tables:\n  " + tbTable + ":\n    key: 'event.k'\n    time: /t\n"))
	if err != nil {
		return nil, err
	}
	cfg.Data, cfg.Addr = dir, "127.0.0.1:0"
	return cfg, nil
}

func BenchmarkTableLookup(b *testing.B) {
	cfg, err := tbConfig(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	shutdown := sync.OnceValue(func() error { return n.Shutdown(context.Background()) })
	defer shutdown()
	if n.Tables == nil {
		b.Fatal("the node opened no table store")
	}

	var d *tbData
	var spent time.Duration
	var tenths []time.Duration
	b.Run("Write", func(b *testing.B) {
		if d != nil { // -count > 1 reruns sub-benchmarks on the same node
			b.Skip("the load is measured once per run of BenchmarkTableLookup")
		}
		d, spent, tenths = tbLoad(b, n.Tables)
		tenth := float64(tbKeys * tbVersions / 10)
		total := tbKeys * tbVersions
		b.ReportMetric(float64(total)/spent.Seconds(), "versions/s")
		b.ReportMetric(0, "ns/op")
		b.Logf("write: %d versions over %d keys in batches of %d: %v in Put, %.0f versions/s over the whole load",
			total, tbKeys, tbBatch, spent.Round(time.Millisecond), float64(total)/spent.Seconds())
		rates := make([]string, len(tenths))
		for i, t := range tenths {
			rates[i] = fmt.Sprintf("%.0f", tenth/t.Seconds())
		}
		b.Logf("write: versions/s by tenth of the load: %s", strings.Join(rates, " "))
	})
	if d == nil { // Write filtered out
		d, _, _ = tbLoad(b, n.Tables)
	}

	ctx := context.Background()
	tr := &http.Transport{MaxIdleConnsPerHost: 2 * tbClients}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	base := "http://" + n.Addr()
	minimal := tbDialAll(b, n.Addr())
	httpGet := func(_ int, q tbQuery) error {
		resp, err := client.Get(base + tbPath(q))
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s at %s: status %d", q.key, q.at, resp.StatusCode)
		}
		return err
	}
	minimalGet := tbGetOn(minimal)
	directGet := tbDirect(ctx, n.Tables)

	// The HTTP API, through both clients, and the store must agree before
	// anything is timed.
	var body []byte
	for _, q := range d.queries(7, 200) {
		v, err := n.Tables.Get(ctx, tbTable, q.key, q.at)
		if err != nil {
			b.Fatalf("get %s at %s: %v", q.key, q.at, err)
		}
		resp, err := client.Get(base + tbPath(q))
		if err != nil {
			b.Fatal(err)
		}
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		status, body2, err2 := minimal[0].get(tbPath(q))
		var got struct {
			ValidFrom time.Time       `json:"valid_from"`
			Value     json.RawMessage `json:"value"`
			Source    struct{ Seq uint64 }
		}
		if err == nil {
			err = cmp.Or(err2, json.Unmarshal(body, &got))
		}
		if err != nil || resp.StatusCode != http.StatusOK || status != http.StatusOK || string(body) != string(body2) ||
			got.Source.Seq != v.Seq || !got.ValidFrom.Equal(v.ValidFrom) || string(got.Value) != string(v.Value) {
			b.Fatalf("%s at %s: HTTP %d %s, minimal client %d %s (%v), store %+v", q.key, q.at, resp.StatusCode, body, status, body2, err, v)
		}
	}

	// Have the kernel write the load's dirty pages to disk now, not while
	// the first lookups are timed. Then warm up every path with other
	// lookups, from all clients at once, so that none timed below pays for
	// first touches: SQLite's page caches and memory mappings (one per
	// reader connection), the clients' connections.
	tbSync(b, cfg.Data)
	for i, do := range []func(c int, q tbQuery) error{httpGet, minimalGet, directGet} {
		if _, _, err := tbIssue(d.queries(uint64(100+i), tbQueries), do); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("HTTP", func(b *testing.B) { tbRun(b, "HTTP", d.queries(7, b.N*tbQueries), httpGet) })
	b.Run("HTTPMinimal", func(b *testing.B) { tbRun(b, "HTTP, minimal client", d.queries(7, b.N*tbQueries), minimalGet) })
	b.Run("Direct", func(b *testing.B) { tbRun(b, "direct", d.queries(7, b.N*tbQueries), directGet) })
	b.Run("HTTPFixed", func(b *testing.B) {
		get := tbGetOn(tbDialAll(b, tbFixedServer(b, body)))
		if _, _, err := tbIssue(d.queries(103, tbQueries), get); err != nil { // warm-up
			b.Fatal(err)
		}
		tbRun(b, "HTTP alone, fixed answer", d.queries(7, b.N*tbQueries), get)
	})
	b.Run("Cores", func(b *testing.B) {
		if err := shutdown(); err != nil { // the child opens the node's data
			b.Fatal(err)
		}
		tbRunCores(b, d, cfg.Data, body)
	})
}

// tbSync flushes the files of dir to disk.
func tbSync(b *testing.B, dir string) {
	b.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			err = f.Sync()
		}
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// tbFixedServer serves body as JSON for every request, on a loopback port it
// returns, until the benchmark ends.
func tbFixedServer(b *testing.B, body []byte) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: tbFixedHandler(body), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// tbFixedHandler answers every request with body, as JSON.
func tbFixedHandler(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
}

// tbDirect returns a lookup on st, for any client; a lookup that finds no
// value is an error (every query of the benchmark has one).
func tbDirect(ctx context.Context, st table.Store) func(c int, q tbQuery) error {
	return func(_ int, q tbQuery) error {
		_, err := st.Get(ctx, tbTable, q.key, q.at)
		if errors.Is(err, table.ErrNotFound) {
			return fmt.Errorf("%s at %s: %w", q.key, q.at, err)
		}
		return err
	}
}
