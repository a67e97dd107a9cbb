package natstest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// kind is what both cluster kinds offer.
type kind interface {
	N() int
	URLs() []string
	URL() string
	Stop(int) error
	Start(int) error
	Running(int) bool
	WaitReady(context.Context) error
	MetaLeader() (int, error)
	WaitStreamLeader(context.Context, string) (int, error)
	Leader(context.Context, string) (int, error)
}

// An in-process cluster is ready when Cluster returns, and an R3 stream on
// it keeps a leader through a stop of its leader.
func TestCluster(t *testing.T) {
	start := time.Now()
	c := Cluster(t, 3)
	t.Logf("3 servers ready in %s", time.Since(start))
	checkReady(t, c)
	for i := range c.N() {
		rz, err := c.Server(i).Routez(nil)
		if err != nil || rz.NumRoutes != 2*routesPerPeer {
			t.Fatalf("%s: %d routes, want %d: %v", c.Name(i), rz.NumRoutes, 2*routesPerPeer, err)
		}
	}
	checkFailover(t, c)
}

// The same with processes, and a kill -9 of the stream's leader.
func TestProcesses(t *testing.T) {
	start := time.Now()
	p := Processes(t, 3)
	t.Logf("3 processes ready in %s", time.Since(start))
	checkReady(t, p)
	checkFailover(t, p)
	ctx := context.Background()
	leader, err := p.WaitStreamLeader(ctx, "S")
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := p.Kill(leader); err != nil {
		t.Fatal(err)
	}
	if p.Running(leader) {
		t.Fatalf("%d runs after Kill", leader)
	}
	next, err := p.WaitStreamLeader(ctx, "S")
	if err != nil || next == leader {
		t.Fatalf("after kill -9 of %d: leader %d, %v", leader, next, err)
	}
	t.Logf("killed the leader; a new leader is current after %s", time.Since(start))
	if err := p.Start(leader); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	// Its output is kept across its runs: at least the first, and this one.
	if out := p.Output(leader); strings.Count(out, "--- natstest: ") < 2 || !strings.Contains(out, "Server is ready") {
		t.Fatalf("output of %d:\n%s", leader, out)
	}
}

// One server is a standalone server: no meta leader, no routes.
func TestStandalone(t *testing.T) {
	for _, c := range []kind{Cluster(t, 1), Processes(t, 1)} {
		if _, err := c.MetaLeader(); err == nil {
			t.Fatal("a standalone server has a meta leader")
		}
		if err := c.Stop(0); err != nil {
			t.Fatal(err)
		}
		if err := c.Start(0); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitReady(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func checkReady(t *testing.T, c kind) {
	t.Helper()
	for _, u := range c.URLs() {
		if !strings.HasPrefix(u, "nats://127.0.0.1:") {
			t.Fatalf("URL %s is not on loopback", u)
		}
	}
	if strings.Count(c.URL(), ",") != c.N()-1 {
		t.Fatalf("URL %s", c.URL())
	}
	if l, err := c.MetaLeader(); err != nil || l < 0 || l >= c.N() {
		t.Fatalf("meta leader %d: %v", l, err)
	}
}

// checkFailover creates the R3 stream S, stops its leader, and starts it again.
func checkFailover(t *testing.T, c kind) {
	t.Helper()
	ctx := context.Background()
	nc, err := nats.Connect(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	leader, err := c.WaitStreamLeader(ctx, "S")
	if err != nil {
		t.Fatal(err)
	}
	if l, err := c.Leader(ctx, "S"); err != nil || l != leader {
		t.Fatalf("Leader = %d, %v; WaitStreamLeader said %d", l, err, leader)
	}
	start := time.Now()
	if err := c.Stop(leader); err != nil {
		t.Fatal(err)
	}
	next, err := c.WaitStreamLeader(ctx, "S")
	if err != nil || next == leader {
		t.Fatalf("after a stop of %d: leader %d, %v", leader, next, err)
	}
	t.Logf("stopped the leader; a new leader is current after %s", time.Since(start))
	for i := range 10 {
		if _, err := js.Publish(ctx, "s", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Start(leader); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitStreamLeader(ctx, "S"); err != nil {
		t.Fatal(err)
	}
	t.Logf("the old leader started again and caught up after %s", time.Since(start))
}
