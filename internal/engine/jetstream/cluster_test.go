package jetstream

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/engine/enginetest"
	"github.com/sluice-dev/sluice/internal/testenv/natstest"
)

// TestCluster runs the conformance suite on a three-server cluster, every
// stream and bucket with three replicas.
func TestCluster(t *testing.T) {
	c := natstest.Cluster(t, 3)
	e := openCluster(t, c, 3)
	enginetest.Run(t, e)
}

func openCluster(t *testing.T, c *natstest.Servers, replicas int) *Engine {
	t.Helper()
	e, err := Open(context.Background(), Options{URL: c.URL(), Replicas: replicas})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// A stream's own replicas win over the engine's default, and change in
// place: the stream keeps its messages.
func TestStreamReplicas(t *testing.T) {
	c := natstest.Cluster(t, 3)
	e := openCluster(t, c, 3)
	ctx := context.Background()
	cfg := engine.StreamConfig{Name: "copies", DuplicateWindow: time.Minute, Replicas: 1}
	if err := e.EnsureStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Append(ctx, e, "copies", []engine.Msg{{ID: "a", Data: []byte("1")}}); err != nil {
		t.Fatal(err)
	}
	st, err := e.State(ctx, "copies")
	if err != nil || st.Replicas != 1 || st.Leader == "" || len(st.Followers) != 0 {
		t.Fatalf("R1: %+v %v", st, err)
	}
	for _, n := range []int{3, 1, 0} {
		cfg.Replicas = n
		if err := e.EnsureStream(ctx, cfg); err != nil {
			t.Fatalf("to %d replicas: %v", n, err)
		}
		want := max(n, 1)
		if n == 0 {
			want = 3 // the engine's default
		}
		if _, err := c.WaitStreamLeader(ctx, streamName("copies")); err != nil {
			t.Fatal(err)
		}
		// A change of replicas is carried out by the servers after they
		// answered it, and the server asked may not have seen the end of it
		// yet (CI once saw R1 with no leader and n1 as a follower): wait
		// for every answer to settle, up to a bound.
		var st engine.StreamState
		var err error
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			st, err = e.State(ctx, "copies")
			if err == nil && st.Replicas == want && st.Messages == 1 && st.Leader != "" && len(st.Followers) == want-1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("to %d replicas: %+v %v", n, st, err)
			}
		}
		for _, f := range st.Followers {
			if f.Name == "" || f.Name == st.Leader {
				t.Fatalf("follower %+v of leader %s", f, st.Leader)
			}
		}
	}
}

// A single server refuses more than one replica, saying why.
func TestEmbeddedRefusesReplicas(t *testing.T) {
	e := openEmbedded(t, t.TempDir())
	defer e.Close()
	err := e.EnsureStream(context.Background(), engine.StreamConfig{Name: "r3", DuplicateWindow: time.Minute, Replicas: 3})
	if !errors.Is(err, engine.ErrUnsupported) {
		t.Fatalf("R3 on one server: %v", err)
	}
	t.Log(err)
	st, err := func() (engine.StreamState, error) {
		if err := e.EnsureStream(context.Background(), engine.StreamConfig{Name: "r1", DuplicateWindow: time.Minute}); err != nil {
			return engine.StreamState{}, err
		}
		return e.State(context.Background(), "r1")
	}()
	if err != nil || st.Replicas != 1 || st.Leader != "" || st.Followers != nil {
		t.Fatalf("embedded R1: %+v %v", st, err)
	}
}

// An R3 stream with two of its three servers down has no leader that can
// store: an append fails with ErrNoLeader once the stream answered nothing
// for the patience, not at the end of its context; once the servers are
// back, appends work again by themselves. Both ways a quorum is lost: the
// leader left alone (it takes appends it cannot commit, then steps down),
// and a follower left alone (nobody takes appends).
func TestNoLeader(t *testing.T) {
	c := natstest.Cluster(t, 3)
	const patience = 2 * time.Second
	e, err := Open(context.Background(), Options{URL: c.URL(), Replicas: 3, Patience: patience})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	if err := e.EnsureStream(ctx, engine.StreamConfig{Name: "quorum", DuplicateWindow: time.Minute}); err != nil {
		t.Fatal(err)
	}
	for round, keepLeader := range []bool{true, false} {
		leader, err := c.WaitStreamLeader(ctx, streamName("quorum"))
		if err != nil {
			t.Fatal(err)
		}
		keep := leader
		if !keepLeader {
			keep = (leader + 1) % 3
		}
		for i := range 3 {
			if i != keep {
				if err := c.Stop(i); err != nil {
					t.Fatal(err)
				}
			}
		}
		actx, cancel := context.WithTimeout(ctx, time.Minute)
		start := time.Now()
		_, err = engine.Append(actx, e, "quorum", []engine.Msg{{ID: fmt.Sprint("lost-", round), Data: []byte("x")}})
		took := time.Since(start)
		cancel()
		t.Logf("leader kept %t: append failed after %s: %v", keepLeader, took, err)
		if !errors.Is(err, engine.ErrNoLeader) || !errors.Is(err, engine.ErrUnavailable) || took > patience+3*time.Second {
			t.Fatalf("append without a quorum: %v after %s, want ErrNoLeader after about %s", err, took, patience)
		}
		for i := range 3 {
			if err := c.Start(i); err != nil {
				t.Fatal(err)
			}
		}
		start = time.Now()
		for {
			actx, cancel := context.WithTimeout(ctx, time.Minute)
			_, err = engine.Append(actx, e, "quorum", []engine.Msg{{ID: fmt.Sprint("back-", round), Data: []byte("y")}})
			cancel()
			if err == nil {
				break
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("appends still fail 30s after the servers came back: %v", err)
			}
		}
		t.Logf("leader kept %t: appends work %s after the servers started again", keepLeader, time.Since(start))
		if err := c.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
