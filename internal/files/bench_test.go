package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/stream"
)

// benchEvents is how many events each benchmark iteration writes: five
// objects of 10,000 (a span cut), so the last one ends without MaxAge.
const benchEvents = 50_000

// benchService is a stream "out" holding benchEvents events of the pipeline
// "p", 180 bytes each, over five partitions (event hours).
func benchService(b *testing.B) *stream.Service {
	b.Helper()
	svc := newService(b)
	raws := make([][]byte, benchEvents)
	for i := range raws {
		raws[i] = ev(i, t0.Add(time.Duration(i/10_000)*time.Hour))
	}
	produce(b, svc, "p", raws...)
	return svc
}

// BenchmarkSink: events per second from the stream into committed
// file:// objects (from the sink's start until the last object is
// committed and acknowledged), each iteration a new sink and consumer over
// the same stream, partitioned by event hour.
func BenchmarkSink(b *testing.B) {
	svc := benchService(b)
	for _, format := range []string{NDJSON, NDJSONGzip, Parquet} {
		b.Run(format, func(b *testing.B) {
			var bytes uint64
			for range b.N {
				dir := b.TempDir()
				s, stop := start(b, svc, Config{URL: "file://" + dir, Format: format, MaxEvents: 10_000,
					Partition: `{{.EventTime.Format "2006/01/02/15"}}`})
				for s.Status().Position < benchEvents {
					time.Sleep(time.Millisecond)
				}
				bytes += s.Status().Bytes
				b.StopTimer() // a stopping sink waits for its fetch to end (up to a second)
				stop()
				b.StartTimer()
			}
			b.ReportMetric(float64(benchEvents*b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(bytes)/float64(benchEvents*b.N), "stored-bytes/event")
		})
	}
}

// BenchmarkRead is the baseline: one pass over the same stream with a
// cursor, decoding each event, writing nothing (the sink reads twice).
func BenchmarkRead(b *testing.B) {
	svc := benchService(b)
	b.ResetTimer()
	for range b.N {
		cur, err := svc.Open(context.Background(), "out", stream.Range{From: event.Position{Kind: event.Earliest}})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := cur.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		cur.Close()
		if n != benchEvents {
			b.Fatal(fmt.Sprint(n, " events"))
		}
	}
	b.ReportMetric(float64(benchEvents*b.N)/b.Elapsed().Seconds(), "events/s")
}
