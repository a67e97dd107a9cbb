package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
)

// BenchmarkAccessControl is the cost of access control per request: GET
// of a stream's status over loopback HTTP from one node with auth off and
// one with auth on (a bearer token, read from the node's cache), in the
// same run; the ratio is what matters.
func BenchmarkAccessControl(b *testing.B) {
	b.Setenv(node.AdminTokenEnv, adminText)
	for _, auth := range []bool{false, true} {
		cfg, err := config.Parse([]byte("streams:\n  wiki.rc: {schema: {type: object}, id: /id, time: /t}\n"))
		if err != nil {
			b.Fatal(err)
		}
		cfg.Data, cfg.Addr, cfg.Auth.Enabled = b.TempDir(), "127.0.0.1:0", auth
		n, err := node.Start(context.Background(), cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		name := map[bool]string{false: "off", true: "on"}[auth]
		b.Run(name, func(b *testing.B) {
			req, _ := http.NewRequest("GET", "http://"+n.Addr()+"/v1/streams/wiki.rc", nil)
			req.Header.Set("Authorization", "Bearer "+adminText)
			for b.Loop() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatal(resp, err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		ctx, cancel := context.WithCancel(context.Background())
		_ = n.Shutdown(ctx)
		cancel()
	}
}
