package node_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/schema"
)

// The produce benchmark and its baselines, run side by side:
//
//	go test -run '^$' -bench . -benchtime 5s ./internal/node/
//
// Each stores or checks the same ~1 KB recorded recentchange events, 100 per batch.

const batch = 100

// eventTemplate holds the 100 recorded events; each gets a fresh meta.id
// per use, written in place, so nothing is a duplicate.
type eventTemplate struct {
	events [][]byte
	idAt   []int // offset of the 36-byte meta.id value in each event
}

func loadTemplate(b *testing.B) *eventTemplate {
	b.Helper()
	data, err := os.ReadFile("../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson")
	if err != nil {
		b.Fatal(err)
	}
	t := &eventTemplate{}
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		i := bytes.Index(line, []byte(`"id":"`))
		if i < 0 {
			b.Fatal("event without meta.id")
		}
		t.events = append(t.events, line)
		t.idAt = append(t.idAt, i+len(`"id":"`))
	}
	return t
}

var idCounter atomic.Uint64

// body fills buf with one NDJSON batch of fresh events.
func (t *eventTemplate) body(buf []byte) []byte {
	buf = buf[:0]
	base := idCounter.Add(batch) - batch
	for i := range batch {
		e := t.events[i%len(t.events)]
		start := len(buf)
		buf = append(buf, e...)
		copy(buf[start+t.idAt[i%len(t.events)]:], fmt.Sprintf("%036d", base+uint64(i)))
		buf = append(buf, '\n')
	}
	return buf
}

func (t *eventTemplate) bytesPerBatch() int {
	n := 0
	for i := range batch {
		n += len(t.events[i%len(t.events)]) + 1
	}
	return n
}

func report(b *testing.B, batches int64, t *eventTemplate) {
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(batches*batch)/secs, "events/s")
	b.ReportMetric(float64(batches)*float64(t.bytesPerBatch())/secs/1e6, "MB/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkProduceHTTP: HTTP produce, schema-validated, durably stored
// (the response comes after JetStream's acks), 4 concurrent clients.
func BenchmarkProduceHTTP(b *testing.B) {
	t := loadTemplate(b)
	cfg, err := config.Parse([]byte("streams:\n  wikimedia.recentchange:\n    schema: ../../testdata/schemas/mediawiki/recentchange/1.0.0.yaml\n    key: [/wiki, /title]\n"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.Data, cfg.Addr = b.TempDir(), "127.0.0.1:0"
	n, err := node.Start(context.Background(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	url := "http://" + n.Addr() + "/v1/streams/wikimedia.recentchange/events"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var batches atomic.Int64
	b.SetParallelism(2) // 2 x GOMAXPROCS(2) = 4 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 2*t.bytesPerBatch())
		for pb.Next() {
			buf = t.body(buf)
			resp, err := client.Post(url, "application/x-ndjson", bytes.NewReader(buf))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			batches.Add(1)
		}
	})
	report(b, batches.Load(), t)
}

// BenchmarkRawJetStreamPublish is baseline (a): the same bytes published
// asynchronously to a file-backed JetStream stream with a Nats-Msg-Id,
// each batch waiting for its acks; no HTTP, no validation.
func BenchmarkRawJetStreamPublish(b *testing.B) {
	t := loadTemplate(b)
	srv, err := server.NewServer(&server.Options{JetStream: true, StoreDir: b.TempDir(), DontListen: true, NoSigs: true, NoLog: true})
	if err != nil {
		b.Fatal(err)
	}
	srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(10 * time.Second) {
		b.Fatal("nats not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "raw", Subjects: []string{"raw"}, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute}); err != nil {
		b.Fatal(err)
	}
	var batches atomic.Int64
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 2*t.bytesPerBatch())
		futs := make([]jetstream.PubAckFuture, batch)
		for pb.Next() {
			buf = t.body(buf)
			lines := bytes.SplitN(buf, []byte("\n"), batch)
			for i, line := range lines {
				m := nats.NewMsg("raw")
				m.Data = line
				m.Header.Set(jetstream.MsgIDHeader, string(line[t.idAt[i%len(t.idAt)]:t.idAt[i%len(t.idAt)]+36]))
				f, err := js.PublishMsgAsync(m)
				if err != nil {
					b.Error(err)
					return
				}
				futs[i] = f
			}
			for _, f := range futs[:len(lines)] {
				select {
				case <-f.Ok():
				case err := <-f.Err():
					b.Error(err)
					return
				}
			}
			batches.Add(1)
		}
	})
	report(b, batches.Load(), t)
}

// BenchmarkDecodeValidate is baseline (b): decode and validate alone, on
// both cores, against the same schema.
func BenchmarkDecodeValidate(b *testing.B) {
	t := loadTemplate(b)
	bu, err := schema.LoadFile("../../testdata/schemas/mediawiki/recentchange/1.0.0.yaml")
	if err != nil {
		b.Fatal(err)
	}
	sch, err := schema.Compile(bu)
	if err != nil {
		b.Fatal(err)
	}
	var batches atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 2*t.bytesPerBatch())
		for pb.Next() {
			buf = t.body(buf)
			for _, line := range bytes.SplitN(bytes.TrimSpace(buf), []byte("\n"), batch) {
				v, err := schema.Decode(line)
				if err != nil {
					b.Error(err)
					return
				}
				if vs := sch.Validate(v); vs != nil {
					b.Error(vs)
					return
				}
			}
			batches.Add(1)
		}
	})
	report(b, batches.Load(), t)
}
