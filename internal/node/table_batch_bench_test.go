package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/httpapi"
	"github.com/sluice-dev/sluice/internal/node"
)

// The batch lookup benchmark (issue #17):
//
//	go test -run '^$' -bench TableBatchLookup -benchtime 1x -count 3 ./internal/node/
//
// The node and load of BenchmarkTableLookup (1,000,000 versions over
// 100,000 keys, SQLite). Then, per b.N, the same 20,000 (key, time) pairs,
// in batches of tbBatchKeys keys sharing one time (each key has a value at
// it), are looked up with tbClients concurrent clients on each path:
//
//   - Direct: Tables.Get per key on the node's store (the baseline);
//   - DirectMany: Tables.GetMany per batch on the node's store;
//   - Batch: POST /v1/tables/{name}/lookup per batch, net/http.Client
//     (keep-alive), the body read in full, status 200 checked;
//   - Single: GET /v1/tables/{name}/keys/{key}?at=T per key, the same client:
//     its p99 latency; and again with one and with two clients (Single1,
//     Single2), whose p99 is a lookup's below the node's capacity: past it
//     (two cores, four closed-loop clients) a p99 is mostly time in a queue.
//
// It reports each path's keys/s, Batch's per-key rate over Direct's
// (batch/direct) and Single's p99 (single-p99-ms, single1-p99-ms,
// single2-p99-ms). Before anything is timed, batches over HTTP must answer
// what the store does, and every path is warmed up with other lookups.

const tbBatchKeys = 100

// tbBatchQuery is one batch: keys looked up at one time.
type tbBatchQuery struct {
	keys []string
	at   time.Time
	body []byte // the request body
}

// batches returns n random batches (seeded) of tbBatchKeys keys, each at a
// time uniform between the load's first version of its last key and one
// step past its end, so every key has a value.
func (d *tbData) batches(seed uint64, n int) []tbBatchQuery {
	r := rand.New(rand.NewPCG(seed, seed))
	first := int64(tbKeys)
	span := int64(tbVersions*tbKeys) - first
	bs := make([]tbBatchQuery, n)
	for i := range bs {
		b := &bs[i]
		b.at = tbT0.Add(time.Duration(first+r.Int64N(span)) * time.Second)
		b.keys = make([]string, tbBatchKeys)
		for j := range b.keys {
			b.keys[j] = d.keys[r.IntN(tbKeys)]
		}
		b.body, _ = json.Marshal(httpapi.TableLookup{Keys: b.keys, At: json.RawMessage(`"` + b.at.Format(time.RFC3339) + `"`)})
	}
	return bs
}

// flat returns the batches' lookups one key at a time.
func flat(bs []tbBatchQuery) []tbQuery {
	var qs []tbQuery
	for _, b := range bs {
		for _, k := range b.keys {
			qs = append(qs, tbQuery{key: k, at: b.at})
		}
	}
	return qs
}

// tbIssueBatches issues the batches with tbClients concurrent clients and
// returns the time they took.
func tbIssueBatches(bs []tbBatchQuery, do func(b tbBatchQuery) error) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for range tbClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bs) {
					return
				}
				if err := do(bs[i]); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	err, _ := failed.Load().(error)
	return time.Since(start), err
}

func BenchmarkTableBatchLookup(b *testing.B) {
	cfg, err := tbConfig(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	d, _, _ := tbLoad(b, n.Tables)

	ctx := context.Background()
	tr := &http.Transport{MaxIdleConnsPerHost: 2 * tbClients}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	base := "http://" + n.Addr()
	lookupURL := base + "/v1/tables/" + tbTable + "/lookup"
	post := func(bq tbBatchQuery) ([]byte, error) {
		resp, err := client.Post(lookupURL, "application/json", bytes.NewReader(bq.body))
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("lookup at %s: status %d: %s", bq.at, resp.StatusCode, body)
		}
		return body, err
	}
	batchHTTP := func(bq tbBatchQuery) error { _, err := post(bq); return err }
	directMany := func(bq tbBatchQuery) error {
		vs, err := n.Tables.GetMany(ctx, tbTable, bq.keys, bq.at)
		for i := 0; err == nil && i < len(vs); i++ {
			if !vs[i].Found() {
				err = fmt.Errorf("%s at %s: no value", vs[i].Key, bq.at)
			}
		}
		return err
	}
	direct := tbDirect(ctx, n.Tables)
	single := func(_ int, q tbQuery) error {
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

	// The route and the store must agree before anything is timed.
	for _, bq := range d.batches(7, 20) {
		body, err := post(bq)
		if err != nil {
			b.Fatal(err)
		}
		var got httpapi.TableLookupResult
		if err := json.Unmarshal(body, &got); err != nil || len(got.Results) != len(bq.keys) {
			b.Fatalf("lookup at %s: %v: %s", bq.at, err, body)
		}
		for i, k := range bq.keys {
			v, err := n.Tables.Get(ctx, tbTable, k, bq.at)
			r := got.Results[i]
			if err != nil || r.Key != k || r.Missing || !r.ValidFrom.Equal(v.ValidFrom) || string(r.Value) != string(v.Value) {
				b.Fatalf("%s at %s: HTTP %+v, store %+v (%v)", k, bq.at, r, v, err)
			}
		}
	}
	tbSync(b, cfg.Data)
	warm := d.batches(100, tbQueries/tbBatchKeys)
	for _, do := range []func(tbBatchQuery) error{batchHTTP, directMany} {
		if _, err := tbIssueBatches(warm, do); err != nil {
			b.Fatal(err)
		}
	}
	for _, do := range []func(int, tbQuery) error{direct, single} {
		if _, _, err := tbIssue(flat(warm), do); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("Lookups", func(b *testing.B) {
		bs := d.batches(7, b.N*tbQueries/tbBatchKeys)
		keys := float64(len(bs) * tbBatchKeys)
		// The paths take turns, a tenth of the batches each, so that what
		// else runs on the machine weighs on them alike.
		var directTook, manyTook, batchTook time.Duration
		singles := []struct {
			clients int
			took    time.Duration
			lat     []time.Duration
			gcs     uint64 // the collector's cycles meanwhile
		}{{clients: tbClients}, {clients: 1}, {clients: 2}}
		b.ResetTimer()
		for round := range slices.Chunk(bs, max(1, len(bs)/10)) {
			qs := flat(round)
			_, took, err := tbIssue(qs, direct)
			directTook += took
			if err == nil {
				took, err = tbIssueBatches(round, directMany)
				manyTook += took
			}
			if err == nil {
				took, err = tbIssueBatches(round, batchHTTP)
				batchTook += took
			}
			for i := range singles {
				if err != nil {
					break
				}
				var l []time.Duration
				si := &singles[i]
				gcs := tbGCs()
				l, took, err = tbIssueBy(si.clients, qs, single)
				si.gcs += tbGCs() - gcs
				si.took += took
				si.lat = append(si.lat, l...)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		directRate, batchRate := keys/directTook.Seconds(), keys/batchTook.Seconds()
		b.ReportMetric(directRate, "direct-keys/s")
		b.ReportMetric(keys/manyTook.Seconds(), "directmany-keys/s")
		b.ReportMetric(batchRate, "batch-keys/s")
		b.ReportMetric(batchRate/directRate, "batch/direct")
		b.ReportMetric(0, "ns/op")
		b.Logf("%.0f keys, %d clients: direct Get %.0f keys/s, direct GetMany %.0f keys/s, HTTP batches of %d %.0f keys/s (%.2fx direct)",
			keys, tbClients, directRate, keys/manyTook.Seconds(), tbBatchKeys, batchRate, batchRate/directRate)
		for _, si := range singles {
			slices.Sort(si.lat)
			p50, p99 := si.lat[len(si.lat)*50/100], si.lat[len(si.lat)*99/100]
			name := "single"
			if si.clients != tbClients {
				name += strconv.Itoa(si.clients)
			}
			b.ReportMetric(keys/si.took.Seconds(), name+"-keys/s")
			b.ReportMetric(float64(p99.Microseconds())/1000, name+"-p99-ms")
			b.Logf("HTTP single, %d clients: %.0f keys/s, p50 %v, p99 %v; %.0f GC cycles/s (the clients' and the server's)",
				si.clients, keys/si.took.Seconds(), p50, p99, float64(si.gcs)/si.took.Seconds())
		}
	})
}

// tbGCs is the number of the collector's cycles so far.
func tbGCs() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
