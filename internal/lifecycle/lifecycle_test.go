package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/lifecycle"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// journal records what components did, in order.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	j.lines = append(j.lines, fmt.Sprintf(format, args...))
	j.mu.Unlock()
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.lines)
}

// part is a component that writes its life into a journal. It takes a
// while to end, so that a replace that did not wait would be seen.
type part struct {
	name     string
	j        *journal
	linger   time.Duration
	closeErr error
	finish   chan struct{} // closed: Run returns on its own
	started  chan struct{}
	closed   int
}

func newPart(j *journal, name string) *part {
	return &part{name: name, j: j, linger: 20 * time.Millisecond, finish: make(chan struct{}), started: make(chan struct{})}
}

func (p *part) Run(ctx context.Context) {
	p.j.add("run %s", p.name)
	close(p.started)
	select {
	case <-ctx.Done():
	case <-p.finish:
	}
	time.Sleep(p.linger)
	p.j.add("end %s", p.name)
}

func (p *part) Close() error {
	p.closed++
	p.j.add("close %s", p.name)
	return p.closeErr
}

func put(t *testing.T, g *lifecycle.Group[*part], name string, p *part) {
	t.Helper()
	if err := g.Put(context.Background(), name, p, nil); err != nil {
		t.Fatal(err)
	}
}

func state(g *lifecycle.Group[*part], name string) lifecycle.State {
	e, ok := g.Get(name)
	if !ok {
		return "absent"
	}
	return e.State
}

func TestPutBeforeAndAfterStart(t *testing.T) {
	j := &journal{}
	g := lifecycle.New[*part]()
	b, a := newPart(j, "b"), newPart(j, "a")
	put(t, g, "b", b)
	put(t, g, "a", a)
	if s := state(g, "a"); s != lifecycle.Waiting {
		t.Fatalf("before Start: %s", s)
	}
	g.Start(context.Background())
	<-a.started
	<-b.started
	c := newPart(j, "c")
	put(t, g, "c", c) // while running: starts at once
	<-c.started
	var names []string
	for _, e := range g.List() {
		names = append(names, e.Name)
		if e.State != lifecycle.Running {
			t.Errorf("%s: %s", e.Name, e.State)
		}
	}
	if !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Fatalf("List: %v", names)
	}
	g.Stop()
	if s := state(g, "a"); s != lifecycle.Ended || a.closed != 1 || b.closed != 1 || c.closed != 1 {
		t.Fatalf("after Stop: %s, closed %d %d %d", s, a.closed, b.closed, c.closed)
	}
	if err := g.Put(context.Background(), "d", newPart(j, "d"), nil); !errors.Is(err, lifecycle.ErrStopped) {
		t.Fatalf("Put after Stop: %v", err)
	}
	g.Stop() // again: nothing
}

func TestReplaceWaitsForTheOldOne(t *testing.T) {
	j := &journal{}
	g := lifecycle.New[*part]()
	g.Start(context.Background())
	defer g.Stop()
	v1, v2 := newPart(j, "v1"), newPart(j, "v2")
	put(t, g, "x", v1)
	<-v1.started
	put(t, g, "x", v2)
	if e, _ := g.Get("x"); e.Component != v2 {
		t.Fatal("Get does not return the new component")
	}
	<-v2.started
	want := []string{"run v1", "end v1", "close v1", "run v2"}
	if got := j.get(); !slices.Equal(got, want) {
		t.Fatalf("journal %v, want %v", got, want)
	}
}

func TestReplaceBeforeStartClosesTheOld(t *testing.T) {
	j := &journal{}
	g := lifecycle.New[*part]()
	v1, v2 := newPart(j, "v1"), newPart(j, "v2")
	put(t, g, "x", v1)
	put(t, g, "x", v2)
	g.Start(context.Background())
	<-v2.started
	g.Stop()
	want := []string{"close v1", "run v2", "end v2", "close v2"}
	if got := j.get(); !slices.Equal(got, want) {
		t.Fatalf("journal %v, want %v", got, want)
	}
}

func TestRemove(t *testing.T) {
	j := &journal{}
	g := lifecycle.New[*part]()
	g.Start(context.Background())
	defer g.Stop()
	p := newPart(j, "p")
	p.closeErr = errors.New("consumer not deleted")
	put(t, g, "p", p)
	<-p.started
	if err := g.Remove(context.Background(), "p", nil); !errors.Is(err, p.closeErr) {
		t.Fatalf("Remove: %v, want the Close error", err)
	}
	if s := state(g, "p"); s != "absent" || p.closed != 1 {
		t.Fatalf("after Remove: %s, closed %d", s, p.closed)
	}
	if want := []string{"run p", "end p", "close p"}; !slices.Equal(j.get(), want) {
		t.Fatalf("journal %v", j.get())
	}
	if err := g.Remove(context.Background(), "p", nil); !errors.Is(err, lifecycle.ErrNotFound) {
		t.Fatalf("Remove again: %v", err)
	}
}

func TestCheckRefuses(t *testing.T) {
	j := &journal{}
	g := lifecycle.New[*part]()
	g.Start(context.Background())
	defer g.Stop()
	old, refused := newPart(j, "old"), newPart(j, "refused")
	put(t, g, "x", old)
	<-old.started
	no := errors.New("no")
	var seen *part
	if err := g.Put(context.Background(), "x", refused, func(o *part) error { seen = o; return no }); !errors.Is(err, no) || seen != old {
		t.Fatalf("Put: %v, check saw %v", err, seen)
	}
	if err := g.Remove(context.Background(), "x", func(*part) error { return no }); !errors.Is(err, no) {
		t.Fatalf("Remove: %v", err)
	}
	if e, _ := g.Get("x"); e.Component != old || e.State != lifecycle.Running || refused.closed != 0 || old.closed != 0 {
		t.Fatalf("after refusals: %+v, closed %d %d", e, refused.closed, old.closed)
	}
}

// waitEnded waits until name's component has ended.
func waitEnded(t *testing.T, g *lifecycle.Group[*part], name string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); state(g, name) != lifecycle.Ended; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("state %s", state(g, name))
		}
	}
}

func TestEndedOnItsOwn(t *testing.T) {
	j := &journal{}
	g := lifecycle.New[*part]()
	g.Start(context.Background())
	defer g.Stop()
	p := newPart(j, "p")
	p.linger = 0
	put(t, g, "p", p)
	close(p.finish)
	waitEnded(t, g, "p")
	// Replacing it does not wait for anything more.
	q := newPart(j, "q")
	put(t, g, "p", q)
	<-q.started
}

func TestTurnHonoursContext(t *testing.T) {
	j := &journal{}
	g := lifecycle.New[*part]()
	g.Start(context.Background())
	defer g.Stop()
	slow := newPart(j, "slow")
	slow.linger = 300 * time.Millisecond
	put(t, g, "x", slow)
	<-slow.started
	go g.Put(context.Background(), "x", newPart(j, "next"), nil) // holds the turn while slow ends
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if e, _ := g.Get("x"); e.Component != slow || time.Now().After(deadline) {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.Put(ctx, "y", newPart(j, "y"), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put while another change runs: %v", err)
	}
}

// TestConcurrentChanges races puts and removes of a few names with
// readers; -race checks it, and every component ends closed exactly once.
func TestConcurrentChanges(t *testing.T) {
	j := &journal{}
	g := lifecycle.New[*part]()
	g.Start(context.Background())
	var mu sync.Mutex
	var all []*part
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 25 {
				name := fmt.Sprintf("n%d", (w+i)%3)
				if i%4 == 3 {
					_ = g.Remove(context.Background(), name, nil)
					continue
				}
				p := newPart(j, fmt.Sprintf("%s.%d.%d", name, w, i))
				p.linger = 0
				mu.Lock()
				all = append(all, p)
				mu.Unlock()
				if err := g.Put(context.Background(), name, p, nil); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	stop := make(chan struct{})
	read := make(chan struct{})
	go func() {
		defer close(read)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, e := range g.List() {
				_ = e.Component.name
			}
			g.Get("n1")
		}
	}()
	writers.Wait()
	close(stop)
	<-read
	g.Stop()
	for _, p := range all {
		if p.closed != 1 {
			t.Errorf("%s closed %d times", p.name, p.closed)
		}
	}
}

// gate grants every unit at once; like the lease cluster's, its release
// ends the held context.
type gate struct{ holds atomic.Int32 }

func (g *gate) Hold(ctx context.Context, unit string) (context.Context, func(), error) {
	g.holds.Add(1)
	held, cancel := context.WithCancel(ctx)
	return held, cancel, nil
}

// A gated component whose Run returns on its own has ended: it is not run
// again (a finished file import used to start over, standby in between,
// because release had ended the held context before the check).
func TestGatedEndedOnItsOwn(t *testing.T) {
	j := &journal{}
	g := lifecycle.New[*part]()
	gt := &gate{}
	g.SetGate("sources", gt)
	g.Start(context.Background())
	defer g.Stop()
	p := newPart(j, "p")
	p.linger = 0
	put(t, g, "p", p)
	close(p.finish)
	waitEnded(t, g, "p")
	time.Sleep(50 * time.Millisecond) // room for a second run, were there one
	if n := gt.holds.Load(); n != 1 || state(g, "p") != lifecycle.Ended {
		t.Fatalf("held %d times, state %s: %v", n, state(g, "p"), j.get())
	}
}
