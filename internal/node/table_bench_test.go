package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
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
// with four concurrent clients.

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
	r := rand.New(rand.NewPCG(5, 5))
	d := &tbData{keys: make([]string, tbKeys)}
	ids := r.Perm(tbKeys)
	for s := range d.keys {
		d.keys[s] = tbKey(1_000_000 + ids[s])
	}
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

type tbQuery struct {
	key string
	at  time.Time
}

// queries returns n random lookups (fixed seed): a random key at a time
// uniformly within its versions' span, from its first version to one step
// past its last, so each of its ten versions is hit about equally.
func (d *tbData) queries(n int) []tbQuery {
	r := rand.New(rand.NewPCG(7, 7))
	qs := make([]tbQuery, n)
	span := int64(tbVersions * tbKeys * tbStep / time.Second)
	for i := range qs {
		s := r.IntN(tbKeys)
		qs[i] = tbQuery{key: d.keys[s], at: tbT0.Add(time.Duration(int64(s)+r.Int64N(span)) * time.Second)}
	}
	return qs
}

// tbRun issues the queries with tbClients concurrent clients and reports
// queries/s, p50 and p99.
func tbRun(b *testing.B, what string, qs []tbQuery, do func(tbQuery) error) {
	b.Helper()
	lat := make([]time.Duration, len(qs))
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	start := time.Now()
	for range tbClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(qs) {
					return
				}
				t := time.Now()
				if err := do(qs[i]); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				lat[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
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

func BenchmarkTableLookup(b *testing.B) {
	cfg, err := config.Parse([]byte("tables:\n  " + tbTable + ":\n    key: 'event.k'\n    time: /t\n"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.Data, cfg.Addr = b.TempDir(), "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Shutdown(context.Background())
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
		b.Logf("write: %d versions over %d keys in batches of %d: %v in Put, %.0f versions/s",
			total, tbKeys, tbBatch, spent.Round(time.Millisecond), float64(total)/spent.Seconds())
		b.Logf("write: first tenth %.0f versions/s, last tenth %.0f versions/s", tenth/tenths[0].Seconds(), tenth/tenths[9].Seconds())
	})
	if d == nil { // Write filtered out
		d, _, _ = tbLoad(b, n.Tables)
	}

	ctx := context.Background()
	tr := &http.Transport{MaxIdleConnsPerHost: 2 * tbClients}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	base := "http://" + n.Addr() + "/v1/tables/" + tbTable + "/keys/"
	get := func(q tbQuery) (*http.Response, error) {
		return client.Get(base + url.PathEscape(q.key) + "?at=" + q.at.Format(time.RFC3339))
	}

	// The HTTP API and the store must agree before anything is timed.
	for _, q := range d.queries(200) {
		v, err := n.Tables.Get(ctx, tbTable, q.key, q.at)
		if err != nil {
			b.Fatalf("get %s at %s: %v", q.key, q.at, err)
		}
		resp, err := get(q)
		if err != nil {
			b.Fatal(err)
		}
		var got struct {
			ValidFrom time.Time       `json:"valid_from"`
			Value     json.RawMessage `json:"value"`
			Source    struct{ Seq uint64 }
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || got.Source.Seq != v.Seq || !got.ValidFrom.Equal(v.ValidFrom) ||
			string(got.Value) != string(v.Value) {
			b.Fatalf("%s at %s: HTTP %d %+v (%v), store %+v", q.key, q.at, resp.StatusCode, got, err, v)
		}
	}

	b.Run("HTTP", func(b *testing.B) {
		tbRun(b, "HTTP", d.queries(b.N*tbQueries), func(q tbQuery) error {
			resp, err := get(q)
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s at %s: status %d", q.key, q.at, resp.StatusCode)
			}
			return err
		})
	})
	b.Run("Direct", func(b *testing.B) {
		tbRun(b, "direct", d.queries(b.N*tbQueries), func(q tbQuery) error {
			_, err := n.Tables.Get(ctx, tbTable, q.key, q.at)
			if errors.Is(err, table.ErrNotFound) {
				return fmt.Errorf("%s at %s: %w", q.key, q.at, err)
			}
			return err
		})
	})
}
