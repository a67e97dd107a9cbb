package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
)

// BenchmarkAccessControl is the cost of access control per request: GET
// /v1/functions (an answer from memory, so that little else is timed)
// over loopback HTTP, in turns, from a node with auth off (the baseline)
// and one with auth on (a bearer token, read from the node's cache). It
// reports both times per request and their ratio.
func BenchmarkAccessControl(b *testing.B) {
	b.Setenv(node.AdminTokenEnv, adminText)
	var reqs []*http.Request
	for _, auth := range []bool{false, true} {
		cfg := config.Default()
		cfg.Data, cfg.Addr, cfg.Auth.Enabled = b.TempDir(), "127.0.0.1:0", auth
		n, err := node.Start(context.Background(), cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = n.Shutdown(context.Background()) })
		req, _ := http.NewRequest("GET", "http://"+n.Addr()+"/v1/functions", nil)
		req.Header.Set("Authorization", "Bearer "+adminText)
		reqs = append(reqs, req)
	}
	var took [2]time.Duration
	for b.Loop() {
		for i, req := range reqs {
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(resp, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			took[i] += time.Since(start)
		}
	}
	off, on := float64(took[0].Nanoseconds())/float64(b.N), float64(took[1].Nanoseconds())/float64(b.N)
	b.ReportMetric(off, "off-ns/req")
	b.ReportMetric(on, "on-ns/req")
	b.ReportMetric(on/off, "on/off")
}
