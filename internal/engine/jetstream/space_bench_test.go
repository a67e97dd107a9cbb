package jetstream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
)

// BenchmarkPublishReserve is what the disk reserve costs an append: the
// same batches of 100 messages of 1 KB, published and waited for, with the
// reserve kept (a statfs per batch) and without (MinFreeDisk -1).
func BenchmarkPublishReserve(b *testing.B) {
	for _, c := range []struct {
		name    string
		reserve int64
	}{{"reserve=off", -1}, {"reserve=default", 0}} {
		b.Run(c.name, func(b *testing.B) {
			e, err := Open(context.Background(), Options{DataDir: b.TempDir(), MinFreeDisk: c.reserve})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			ctx := context.Background()
			if err := e.EnsureStream(ctx, engine.StreamConfig{Name: "bench", DuplicateWindow: time.Minute}); err != nil {
				b.Fatal(err)
			}
			batch := msgs("b", 0, 100)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				for j := range batch {
					batch[j].ID = fmt.Sprintf("%d-%d", i, j)
				}
				if _, err := engine.Append(ctx, e, "bench", batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkDiskUsage is the statfs the reserve costs per batch.
func BenchmarkDiskUsage(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		if _, _, err := diskUsage(dir); err != nil {
			b.Fatal(err)
		}
	}
}
