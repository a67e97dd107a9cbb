package sqlite_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/table"
	"github.com/sluice-dev/sluice/internal/table/sqlite"
)

func openBench(b *testing.B) *sqlite.Store {
	b.Helper()
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Create(b.Context(), "bench"); err != nil {
		b.Fatal(err)
	}
	return s
}

var benchT0 = time.Date(2023, 7, 29, 0, 0, 0, 0, time.UTC)

// BenchmarkPut writes batches of 1000 new versions.
func BenchmarkPut(b *testing.B) {
	s := openBench(b)
	batch := make([]table.Write, 1000)
	seq := uint64(0)
	for b.Loop() {
		for i := range batch {
			seq++
			batch[i] = table.Write{Key: fmt.Sprintf("page/%d", seq%50000), ValidFrom: benchT0.Add(time.Duration(seq) * time.Millisecond),
				Value: []byte(`{"images":["a.jpg","b.png"]}`), Stream: "bench", Seq: seq}
		}
		if err := s.Put(b.Context(), "bench", batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "versions/s")
}

// BenchmarkGet looks up random keys at random times in 100,000 keys with 10
// versions each.
func BenchmarkGet(b *testing.B) {
	const keys, versions = 100_000, 10
	s := openBench(b)
	batch := make([]table.Write, 0, 1000)
	seq := uint64(0)
	for v := range versions {
		for k := range keys {
			seq++
			batch = append(batch, table.Write{Key: fmt.Sprintf("page/%d", k), ValidFrom: benchT0.Add(time.Duration(v) * time.Hour),
				Value: []byte(`{"images":["a.jpg","b.png"]}`), Stream: "bench", Seq: seq})
			if len(batch) == cap(batch) {
				if err := s.Put(b.Context(), "bench", batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 1))
	n := 0
	for b.Loop() {
		key := fmt.Sprintf("page/%d", r.IntN(keys))
		if _, err := s.Get(b.Context(), "bench", key, benchT0.Add(time.Duration(r.Int64N(int64(versions*time.Hour))))); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lookups/s")
}
