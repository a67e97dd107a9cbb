package lease

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/engine/jetstream"
	"github.com/sluice-dev/sluice/internal/testenv/natstest"
)

// cutter is a TCP relay on loopback that can cut every connection through
// it and refuse new ones: a network partition between one client and NATS.
type cutter struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	cut    bool
	wg     sync.WaitGroup
}

func newCutter(t *testing.T, target string) *cutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, target: target}
	c.wg.Go(c.accept)
	t.Cleanup(func() { c.sever(); _ = ln.Close(); c.wg.Wait() })
	return c
}

func (c *cutter) accept() {
	for {
		in, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		if c.cut {
			c.mu.Unlock()
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", c.target)
		if err != nil {
			c.mu.Unlock()
			_ = in.Close()
			continue
		}
		c.conns = append(c.conns, in, out)
		c.mu.Unlock()
		c.wg.Go(func() { _, _ = io.Copy(out, in); _ = out.Close() })
		c.wg.Go(func() { _, _ = io.Copy(in, out); _ = in.Close() })
	}
}

// sever cuts every connection and refuses new ones.
func (c *cutter) sever() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = true
	for _, x := range c.conns {
		_ = x.Close()
	}
	c.conns = nil
}

// A node cut off from NATS cannot renew its claims: it stops its runs by
// itself before the claims can expire, and the other node takes them
// only after they did: the runs never overlap.
func TestCutOffNodeGivesItsWorkUp(t *testing.T) {
	nats := natstest.Cluster(t, 1) // a single server tells its clients of no other
	open := func(url string) *jetstream.Engine {
		e, err := jetstream.Open(context.Background(), jetstream.Options{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		return e
	}
	cut := newCutter(t, nats.URLs()[0][len("nats://"):])
	ea, eb := open("nats://"+cut.ln.Addr().String()), open(nats.URL())
	a, b := join(t, ea, "a"), join(t, eb, "b")
	us := units(4)
	wa := work(a, us...)
	waitFor(t, "a runs all four", 5*time.Second, func() bool { return len(wa.runs()) == 4 })
	wb := work(b, us...)
	waitFor(t, "two each", 10*time.Second, func() bool { return len(wa.runs()) == 2 && len(wb.runs()) == 2 })
	stop := exclusive(t, wa, wb)
	cut.sever()
	severed := time.Now()
	fenced := waitFor(t, "a stops its runs by itself", ttl, func() bool { return len(wa.runs()) == 0 })
	waitFor(t, "b runs all four", 3*ttl, func() bool { return len(wb.runs()) == 4 })
	t.Logf("ttl %v: cut off, a stopped its runs after %v; b ran them %v after the cut", ttl, fenced, time.Since(severed))
	stop()
	wa.stop()
	wb.stop()
}
