// Package natstest runs NATS JetStream clusters for tests, on loopback
// only: Cluster starts n servers inside the test process, Processes starts
// n nats-server processes, which a test can kill -9.
//
// Both return a cluster that is ready to use: every server healthy, all
// agreeing on one meta leader, and every server holding all its route
// connections to the others. /healthz alone says too little: a stream
// created before the routes are complete can fail with err_code 10005
// ("insufficient resources") or land on too few peers. After a server is
// stopped and started again, WaitReady waits for the same.
//
// Each server has its own name (n1, n2, ...), store directory (under
// t.TempDir(), kept across a stop and a start) and ports; a restarted
// server binds the same ones. Everything is stopped when the test ends.
// A "cluster" of one server is a standalone server (no cluster, no meta
// leader, no routes), as a plain external NATS is.
//
// Methods that can fail return an error rather than take a *testing.T, so
// they can be called from any goroutine (a fault injector's, a subtest's).
// Waits take a context; without a deadline they give up after
// DefaultWait.
package natstest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultWait bounds a wait whose context has no deadline.
const DefaultWait = 30 * time.Second

// ClusterName is the cluster's name (server.ClusterOpts.Name).
const ClusterName = "sluice-test"

// routesPerPeer is how many route connections a server keeps to each other
// server once the cluster is complete: the default pool, and one of the
// system account's own.
const routesPerPeer = server.DEFAULT_ROUTE_POOL_SIZE + 1

// cluster is what both kinds share: the servers' names, ports and
// directories, and how to ask one of them how it is.
type cluster struct {
	names   []string // n1, n2, ...
	clients []int    // client ports
	routes  []int    // route ports
	dirs    []string // store directories

	// probe asks server i how it is; an error means it did not answer.
	probe func(i int) (health, error)
	// running reports whether server i is started.
	running func(i int) bool
}

// health is one server's view of the cluster.
type health struct {
	err    error          // nil: healthy (its /healthz is ok)
	meta   string         // the meta leader it follows, "" when none
	routes map[string]int // its route connections, by the remote server's name
}

// N is the number of servers.
func (c *cluster) N() int { return len(c.names) }

// Name is server i's name (n1 for server 0).
func (c *cluster) Name(i int) string { return c.names[i] }

// Index is the index of the server named name, -1 if none is.
func (c *cluster) Index(name string) int {
	for i, n := range c.names {
		if n == name {
			return i
		}
	}
	return -1
}

// URLs are the client URLs of every server, running or not, in order.
func (c *cluster) URLs() []string {
	out := make([]string, len(c.clients))
	for i, p := range c.clients {
		out[i] = "nats://" + host + ":" + strconv.Itoa(p)
	}
	return out
}

// URL is URLs joined by commas, as nats.Connect and sluice's nats.url take it.
func (c *cluster) URL() string { return strings.Join(c.URLs(), ",") }

// StoreDir is server i's JetStream store directory.
func (c *cluster) StoreDir(i int) string { return c.dirs[i] }

func (c *cluster) up() []int {
	var out []int
	for i := range c.names {
		if c.running(i) {
			out = append(out, i)
		}
	}
	return out
}

// WaitReady waits until every running server is healthy, all of them
// follow the same meta leader (a running one), and each holds all its
// route connections to every other running server. The running servers
// must be a majority for that to happen.
func (c *cluster) WaitReady(ctx context.Context) error {
	ctx, cancel := withDefault(ctx)
	defer cancel()
	start := time.Now()
	for {
		why := c.notReady()
		if why == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("natstest: cluster not ready after %s: %s", time.Since(start).Round(time.Millisecond), why)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// notReady says why the cluster is not ready, "" when it is.
func (c *cluster) notReady() string {
	up := c.up()
	if len(up) == 0 {
		return "no server is running"
	}
	leader := ""
	for _, i := range up {
		h, err := c.probe(i)
		switch {
		case err != nil:
			return fmt.Sprintf("%s does not answer: %v", c.names[i], err)
		case h.err != nil:
			return fmt.Sprintf("%s is not healthy: %v", c.names[i], h.err)
		case c.N() == 1:
			return ""
		case h.meta == "":
			return fmt.Sprintf("%s has no meta leader", c.names[i])
		case leader != "" && h.meta != leader:
			return fmt.Sprintf("the servers disagree on the meta leader (%s or %s)", leader, h.meta)
		}
		leader = h.meta
		for _, j := range up {
			if j != i && h.routes[c.names[j]] < routesPerPeer {
				return fmt.Sprintf("%s has %d of %d route connections to %s", c.names[i], h.routes[c.names[j]], routesPerPeer, c.names[j])
			}
		}
	}
	if l := c.Index(leader); l < 0 || !c.running(l) {
		return fmt.Sprintf("the meta leader %s is not running", leader)
	}
	return ""
}

// MetaLeader is the index of the server the running servers follow as
// meta leader now; an error when there is none or they disagree (or the
// server is standalone).
func (c *cluster) MetaLeader() (int, error) {
	if c.N() == 1 {
		return -1, errors.New("natstest: a standalone server has no meta leader")
	}
	leader := ""
	for _, i := range c.up() {
		h, err := c.probe(i)
		if err != nil {
			return -1, fmt.Errorf("natstest: %s does not answer: %w", c.names[i], err)
		}
		if h.meta == "" || (leader != "" && h.meta != leader) {
			return -1, fmt.Errorf("natstest: no meta leader all running servers follow (%s sees %q)", c.names[i], h.meta)
		}
		leader = h.meta
	}
	if leader == "" {
		return -1, errors.New("natstest: no server is running")
	}
	return c.Index(leader), nil
}

// StreamCluster is a stream's leader and replicas as JetStream reports them.
type StreamCluster struct {
	Replicas  int                   // the copies the stream is configured with
	Leader    string                // "" when the stream has none
	Followers []*jetstream.PeerInfo // the other copies: Current, Lag, Offline
}

// Stream asks the cluster about a JetStream stream (for a sluice stream
// "s", the JetStream name is "sluice_s"; a KV bucket's is "KV_<bucket>").
func (c *cluster) Stream(ctx context.Context, stream string) (StreamCluster, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var urls []string
	for _, i := range c.up() {
		urls = append(urls, c.URLs()[i])
	}
	if len(urls) == 0 {
		return StreamCluster{}, errors.New("natstest: no server is running")
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.Name("natstest"), nats.Timeout(time.Second), nats.NoReconnect())
	if err != nil {
		return StreamCluster{}, fmt.Errorf("natstest: connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return StreamCluster{}, err
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return StreamCluster{}, fmt.Errorf("natstest: stream %s: %w", stream, err)
	}
	info := s.CachedInfo()
	if info.Cluster == nil {
		return StreamCluster{}, fmt.Errorf("natstest: stream %s: no cluster information", stream)
	}
	return StreamCluster{Replicas: info.Config.Replicas, Leader: info.Cluster.Leader, Followers: info.Cluster.Replicas}, nil
}

// Leader is the index of the server leading the stream now; an error when
// it has no leader (or nobody answers).
func (c *cluster) Leader(ctx context.Context, stream string) (int, error) {
	sc, err := c.Stream(ctx, stream)
	if err != nil {
		return -1, err
	}
	if sc.Leader == "" {
		return -1, fmt.Errorf("natstest: stream %s has no leader", stream)
	}
	return c.Index(sc.Leader), nil
}

// WaitStreamLeader waits until the stream has a leader and all its
// replicas placed, no more (after a change of its replicas too), each on a
// running server current (not offline, not lagging), and returns the
// leader's index. Replicas on stopped servers are not waited for.
func (c *cluster) WaitStreamLeader(ctx context.Context, stream string) (int, error) {
	ctx, cancel := withDefault(ctx)
	defer cancel()
	start := time.Now()
	for {
		sc, err := c.Stream(ctx, stream)
		why := ""
		switch {
		case err != nil:
			why = err.Error()
		case sc.Leader == "":
			why = "no leader"
		case len(sc.Followers) != sc.Replicas-1:
			why = fmt.Sprintf("%d peers, %d replicas configured", len(sc.Followers)+1, sc.Replicas)
		default:
			for _, r := range sc.Followers {
				if i := c.Index(r.Name); (i < 0 || c.running(i)) && (!r.Current || r.Offline) {
					why = fmt.Sprintf("replica %s is not current (offline %t, lag %d)", r.Name, r.Offline, r.Lag)
				}
			}
		}
		if why == "" {
			return c.Index(sc.Leader), nil
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("natstest: stream %s: no current leader after %s: %s", stream, time.Since(start).Round(time.Millisecond), why)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func withDefault(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultWait)
}

// routeCounts counts route connections by remote server name.
func routeCounts(rz *server.Routez) map[string]int {
	out := map[string]int{}
	for _, r := range rz.Routes {
		out[r.RemoteName]++
	}
	return out
}

// healthErr is a /healthz answer as an error, nil when it is ok.
func healthErr(h *server.HealthStatus) error {
	if h.Status == "ok" {
		return nil
	}
	msgs := []string{}
	if h.Error != "" {
		msgs = append(msgs, h.Error)
	}
	for _, e := range h.Errors {
		msgs = append(msgs, e.Error)
	}
	sort.Strings(msgs)
	return fmt.Errorf("%s: %s", h.Status, strings.Join(msgs, "; "))
}
