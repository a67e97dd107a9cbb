package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pipeline"
)

// TestSQLOutputCommitOutlivesItsDeadline: a write whose ctx ends while
// PostgreSQL's answer to its COMMIT is on its way says what happened: the
// database committed, so the write succeeds (it used to answer "timeout"
// with the batch stored, which the conformance suite's CanceledDuring
// caught once under load). A proxy on loopback holds back the answer.
func TestSQLOutputCommitOutlivesItsDeadline(t *testing.T) {
	target := postgresTarget(t)
	table := fmt.Sprintf("sluice_commit_%d", time.Now().UnixNano())
	t.Cleanup(func() { target.db.Exec(`DROP TABLE IF EXISTS "` + table + `"`) })
	p := delayCommits(t, "127.0.0.1:5432", 300*time.Millisecond)
	url := strings.Replace(target.url, "127.0.0.1:5432", p.addr, 1)

	ctx := context.Background()
	o, err := pipeline.NewSQLOutput(ctx, pipeline.SQLOutputConfig{URL: url, Table: table,
		Columns: map[string]string{"v": "/v"}})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var outs []pipeline.Out
	for i := range 10 {
		outs = append(outs, pipeline.Out{Data: fmt.Appendf(nil, `{"v":%d}`, i), ID: fmt.Sprint("id", i), Position: fmt.Sprintf("%020d:000000", i+1)})
	}
	p.armed.Store(true)
	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = o.Write(wctx, outs)
	if p.held.Load() == 0 {
		t.Fatal("the proxy held back no COMMIT answer: the test tested nothing")
	}
	var n int
	if err := target.db.QueryRow(`SELECT count(*) FROM "` + table + `"`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err != nil || n != len(outs) {
		t.Fatalf("a write whose deadline passed during its commit: %v, and %d of %d rows stored", err, n, len(outs))
	}
}

// commitProxy passes TCP between a client and addr, holding back for a
// while, when armed, each chunk from the server that carries the
// CommandComplete of a COMMIT.
type commitProxy struct {
	addr  string
	armed atomic.Bool
	held  atomic.Int64
}

func delayCommits(t *testing.T, server string, hold time.Duration) *commitProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &commitProxy{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) { mu.Lock(); conns = append(conns, c); mu.Unlock() }
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	commit := []byte("COMMIT\x00")
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", server)
			if err != nil {
				c.Close()
				continue
			}
			track(c)
			track(s)
			wg.Go(func() { io.Copy(s, c); s.Close() })
			wg.Go(func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 && p.armed.Load() && bytes.Contains(buf[:n], commit) {
						p.held.Add(1)
						time.Sleep(hold)
					}
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	return p
}
