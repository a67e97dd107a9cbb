package lease

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/engine/jetstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ttl = 2 * time.Second

func openEngine(t *testing.T) engine.Engine {
	t.Helper()
	e, err := jetstream.Open(context.Background(), jetstream.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func join(t *testing.T, e engine.Engine, node string) *Cluster {
	t.Helper()
	c, err := Open(context.Background(), e, Options{Node: node, Addr: "127.0.0.1:1", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// crash stops c as kill -9 would: nothing given back, nothing renewed.
func (c *Cluster) crash() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stop()
	<-c.done
}

// worker runs units on c as a component group would: hold, run until the
// hold ends, release, hold again. It records who runs what.
type worker struct {
	mu      sync.Mutex
	running map[string]bool
	starts  map[string]int
	wg      sync.WaitGroup
	cancel  context.CancelFunc
}

func work(c *Cluster, units ...string) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{running: map[string]bool{}, starts: map[string]int{}, cancel: cancel}
	for _, u := range units {
		w.wg.Go(func() {
			for ctx.Err() == nil {
				held, release, err := c.Hold(ctx, u)
				if err != nil {
					return
				}
				w.set(u, true)
				<-held.Done()
				w.set(u, false)
				release()
			}
		})
	}
	return w
}

func (w *worker) set(u string, on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.running[u] = on
	if on {
		w.starts[u]++
	}
}

func (w *worker) runs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for u, on := range w.running {
		if on {
			out = append(out, u)
		}
	}
	return out
}

func (w *worker) stop() { w.cancel(); w.wg.Wait() }

// watch checks, every 20 ms until stop, that no unit runs on two workers
// at once, and returns a function giving how long until cond held.
func exclusive(t *testing.T, ws ...*worker) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			seen := map[string]int{}
			for _, w := range ws {
				for _, u := range w.runs() {
					seen[u]++
				}
			}
			for u, n := range seen {
				if n > 1 {
					t.Errorf("%s runs on %d nodes at once", u, n)
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v", what, within)
	return 0
}

func units(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("pipelines.p%d", i)
	}
	return out
}

func TestOneNodeRunsEachUnit(t *testing.T) {
	e := openEngine(t)
	a, b := join(t, e, "a"), join(t, e, "b")
	us := units(6)
	wa, wb := work(a, us...), work(b, us...)
	stop := exclusive(t, wa, wb)
	waitFor(t, "all six run, three on each node", 10*time.Second, func() bool {
		return len(wa.runs()) == 3 && len(wb.runs()) == 3
	})
	for _, u := range us {
		h, ok := a.Holder(u)
		if !ok {
			t.Fatalf("%s has no holder in a's view", u)
		}
		if (h.Node == "a") != a.Holds(u) {
			t.Fatalf("%s: claim says %s, a holds it: %v", u, h.Node, a.Holds(u))
		}
	}
	if got := len(a.Members()); got != 2 {
		t.Fatalf("a sees %d members", got)
	}
	stop()
	wa.stop()
	a.Close()
	// b takes a's units at once: a gave them back.
	took := waitFor(t, "b runs all six after a stopped", 5*time.Second, func() bool { return len(wb.runs()) == 6 })
	t.Logf("a stopped: b ran its units after %v", took)
	wb.stop()
}

// A node that runs nothing (it wants none of the units) does not count in
// the share: the others run everything.
func TestIdleNodeDoesNotHoldWorkBack(t *testing.T) {
	e := openEngine(t)
	a, b := join(t, e, "a"), join(t, e, "b")
	_ = a
	wb := work(b, units(4)...)
	waitFor(t, "b runs all four", 5*time.Second, func() bool { return len(wb.runs()) == 4 })
	wb.stop()
}

func TestTakeoverAfterACrash(t *testing.T) {
	e := openEngine(t)
	a := join(t, e, "a")
	us := units(2)
	wa := work(a, us...)
	waitFor(t, "a runs both", 5*time.Second, func() bool { return len(wa.runs()) == 2 })
	b := join(t, e, "b")
	wb := work(b, us...)
	waitFor(t, "one each", 10*time.Second, func() bool { return len(wa.runs()) == 1 && len(wb.runs()) == 1 })
	a.crash() // as kill -9: its claims are no longer renewed (its runs, here, would be dead)
	took := waitFor(t, "b runs both", 3*ttl, func() bool { return len(wb.runs()) == 2 })
	t.Logf("ttl %v: b took over %v after the crash", ttl, took)
	if took < ttl*3/4 {
		t.Fatalf("b took over %v after a crash, before a's claim could expire (ttl %v)", took, ttl)
	}
	wa.stop()
	wb.stop()
}

func TestSameNameTakesBackAtOnce(t *testing.T) {
	e := openEngine(t)
	a := join(t, e, "a")
	wa := work(a, units(3)...)
	waitFor(t, "a runs all", 5*time.Second, func() bool { return len(wa.runs()) == 3 })
	a.crash() // its claims stay, unrenewed, as after kill -9
	a2 := join(t, e, "a")
	wa2 := work(a2, units(3)...)
	took := waitFor(t, "the restarted a runs all", ttl/2, func() bool { return len(wa2.runs()) == 3 })
	t.Logf("restarted under the same name: ran again after %v (ttl %v)", took, ttl)
	wa.stop() // the dead process's runs (here: still waiting) give up nothing that is theirs any more
	wa2.stop()
}

func TestJoiningNodeGetsItsShare(t *testing.T) {
	e := openEngine(t)
	a := join(t, e, "a")
	us := units(5)
	wa := work(a, us...)
	waitFor(t, "a runs all", 5*time.Second, func() bool { return len(wa.runs()) == 5 })
	b, c := join(t, e, "b"), join(t, e, "c")
	wb, wc := work(b, us...), work(c, us...)
	stop := exclusive(t, wa, wb, wc)
	took := waitFor(t, "spread 2/2/1", 15*time.Second, func() bool {
		n := []int{len(wa.runs()), len(wb.runs()), len(wc.runs())}
		return n[0]+n[1]+n[2] == 5 && n[0] <= 2 && n[1] <= 2 && n[2] <= 2
	})
	t.Logf("two nodes joined: work spread after %v", took)
	stop()
	wa.stop()
	wb.stop()
	wc.stop()
}

// A claim written over by another (it expired and was taken) ends the
// run at once.
func TestLostClaimEndsTheRun(t *testing.T) {
	e := openEngine(t)
	a := join(t, e, "a")
	wa := work(a, "sources.s")
	waitFor(t, "a runs", 5*time.Second, func() bool { return len(wa.runs()) == 1 })
	_, rev, err := a.leases.Get(context.Background(), "sources.s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.leases.Update(context.Background(), "sources.s", []byte(`{"node":"z","instance":"other"}`), rev); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a's run ends", ttl, func() bool { return len(wa.runs()) == 0 })
	wa.stop()
}

func TestBadNodeName(t *testing.T) {
	e := openEngine(t)
	for _, n := range []string{"", ".a", "a b", "a*", "a>"} {
		if _, err := Open(context.Background(), e, Options{Node: n}); err == nil {
			t.Errorf("node name %q accepted", n)
		}
	}
}

// TestLostBeforeHoldReturnsIsWaitedFor: a claim granted and lost at once
// (contested while NATS servers restart), before Hold could return it,
// is waited for again rather than ending Hold with an error, which would
// make the node stop wanting the unit for good (CI once saw a node never
// take over a pipeline).
func TestLostBeforeHoldReturnsIsWaitedFor(t *testing.T) {
	e := openEngine(t)
	a := join(t, e, "a")
	ctx := context.Background()
	// Another node holds the unit: a waits.
	if _, err := a.leases.Create(ctx, "pipelines.p", []byte(`{"node":"z","instance":"other"}`)); err != nil {
		t.Fatal(err)
	}
	type result struct {
		held context.Context
		err  error
	}
	done := make(chan result, 1)
	go func() {
		held, _, err := a.Hold(ctx, "pipelines.p")
		done <- result{held, err}
	}()
	var w *want
	waitFor(t, "a wants the unit", 5*time.Second, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		w = a.wants["pipelines.p"]
		return w != nil
	})
	// Granted and lost before Hold looked: lost first, so that Hold,
	// which reads the context without the lock, cannot see the grant
	// alone (it may, in production, and then returns a context that
	// ends at once, which callers handle as any lost claim).
	a.mu.Lock()
	w.held = true
	a.lose(w, "test: another node claimed it", nil)
	close(w.granted) // lose cleared held: nothing to give back, the claim was never this node's
	a.mu.Unlock()
	select {
	case r := <-done:
		t.Fatalf("Hold returned (%v) on a claim lost before it returned", r.err)
	case <-time.After(300 * time.Millisecond):
	}
	// The other node gives it up: a takes it, and Hold returns it.
	if err := a.leases.Delete(ctx, "pipelines.p"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.held.Err() != nil {
			t.Fatalf("Hold: %v", r.err)
		}
	case <-time.After(3 * ttl):
		t.Fatal("a never took the unit back")
	}
	if !a.Holds("pipelines.p") {
		t.Fatal("a does not hold the unit")
	}
}
