// Package lease shares the work of the nodes that use one engine: each
// piece of work (a source, a pipeline, a files output: a "unit") runs on
// exactly one node at a time, and moves to another node by itself when
// its node dies or stops.
//
// A node registers itself under its name in the bucket "nodes" and claims
// a unit by creating the unit's key in the bucket "leases". Keys of both
// buckets vanish ttl after their last write (engine.ExpiringKV), so a node
// that dies loses its claims by itself. JetStream decides every race: a
// Create succeeds for one node only, and a renewal (an Update) only at the
// revision its writer last saw, so a node whose claim expired finds out at
// its next renewal. Nothing here votes, elects or replicates.
//
// A claim is renewed every ttl/4. A node that could not renew for 3/4 of
// ttl (it lost the engine) gives the unit up on its own, before the claim
// can expire on the server and be taken: the runs of one unit never
// overlap while clocks run at the same rate. A node takes at most its
// share of the units (their number over the live nodes that run any,
// rounded up) and gives back, one at a time, what it holds beyond its
// share, so a joining node gets some. A unit that runs nowhere for a ttl
// (the nodes under their share do not want it) is taken by any node that
// wants it, whatever its share, and kept.
//
// A node restarted under the same name takes its claims back at once
// (they name the node, and the process before it is gone): node names
// must be unique.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
)

// Options configure a node's part in the sharing.
type Options struct {
	Node   string        // unique among the nodes sharing the engine
	Addr   string        // its HTTP address, for the other nodes and GET /v1/cluster
	TTL    time.Duration // how long a claim lasts unrenewed (default 10s)
	Tables string        // the node's table store: "sqlite", "postgres" or "" (none)
	Log    *slog.Logger
}

// Member is a node as it registered itself.
type Member struct {
	Name     string    `json:"name"`
	Instance string    `json:"instance"` // one process of the node
	Addr     string    `json:"addr"`
	Started  time.Time `json:"started"`
	LastSeen time.Time `json:"last_seen"`
	Tables   string    `json:"tables,omitempty"`
	Units    int       `json:"units"` // how many units it runs or waits to run
}

// Claim is who runs a unit.
type Claim struct {
	Node     string    `json:"node"`
	Instance string    `json:"instance"`
	Addr     string    `json:"addr"`
	Since    time.Time `json:"since"`   // when this node took it
	Renewed  time.Time `json:"renewed"` // its last renewal, by its clock
}

// DefaultTTL is the lease when Options.TTL is 0.
const DefaultTTL = 10 * time.Second

var validNode = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]*$`)

// ErrClosed is returned by Hold once the node stopped sharing.
var ErrClosed = errors.New("lease: closed")

// Cluster is this node's part in sharing the work. Make one with Open.
type Cluster struct {
	o        Options
	instance string
	started  time.Time
	nodes    engine.ExpiringKV
	leases   engine.ExpiringKV
	log      *slog.Logger

	mu      sync.Mutex
	closed  bool
	me      uint64                // revision of our registration; 0: not registered
	meSent  time.Time             // when its last successful write was sent
	members map[string]seenMember // the registrations seen (watched)
	claims  map[string]seenClaim  // unit -> its claim (watched)
	wants   map[string]*want      // the units this node runs or waits to run
	kick    chan struct{}

	stop context.CancelFunc
	done chan struct{}
}

type seenMember struct {
	m    Member
	seen time.Time // by our clock, when its last write reached us
}

type seenClaim struct {
	c    Claim
	seen time.Time
}

// want is a unit this node runs or waits to run.
type want struct {
	unit    string
	granted chan struct{} // closed once held
	held    bool
	rev     uint64    // of our claim, when held
	sent    time.Time // when our last successful write of it was sent
	cancel  context.CancelFunc
	ctx     context.Context // ends when the claim is lost or given up
	since   time.Time
	// freeSince is when this node first saw the unit run nowhere, while
	// it waits for it; zero while another node runs it.
	freeSince time.Time
	// keep: taken because no other node took it in time (see balance),
	// it is not given back to share the work until then.
	keep time.Time
}

// Open registers the node and starts keeping its claims.
func Open(ctx context.Context, eng engine.Engine, o Options) (*Cluster, error) {
	if !validNode.MatchString(o.Node) {
		return nil, fmt.Errorf("node name %q: want letters, digits, '_', '-' and '.' (not first)", o.Node)
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	x, ok := eng.(engine.ExpiringKVs)
	if !ok {
		return nil, errors.New("lease: the engine has no expiring buckets")
	}
	nodes, err := x.ExpiringKV(ctx, "nodes", o.TTL)
	if err != nil {
		return nil, err
	}
	leases, err := x.ExpiringKV(ctx, "leases", o.TTL)
	if err != nil {
		return nil, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	c := &Cluster{o: o, instance: hex.EncodeToString(id[:]), started: time.Now().UTC(), nodes: nodes, leases: leases,
		log: o.Log.With("node", o.Node), members: map[string]seenMember{}, claims: map[string]seenClaim{},
		wants: map[string]*want{}, kick: make(chan struct{}, 1), done: make(chan struct{})}
	if err := c.register(ctx); err != nil {
		return nil, err
	}
	loop, stop := context.WithCancel(context.WithoutCancel(ctx))
	c.stop = stop
	nodesCh, err := nodes.Watch(loop, "")
	if err != nil {
		stop()
		return nil, err
	}
	leasesCh, err := leases.Watch(loop, "")
	if err != nil {
		stop()
		return nil, err
	}
	c.catchUp(ctx, nodesCh, leasesCh)
	go func() {
		defer close(c.done)
		c.run(loop, nodesCh, leasesCh)
	}()
	return c, nil
}

// catchUp reads the current registrations and claims before Open returns,
// so the first decisions know the other nodes.
func (c *Cluster) catchUp(ctx context.Context, nodes, leases <-chan engine.KVChange) {
	for _, ch := range []<-chan engine.KVChange{nodes, leases} {
		for {
			var ch0 engine.KVChange
			var ok bool
			select {
			case ch0, ok = <-ch:
			case <-ctx.Done():
				return
			}
			if !ok || ch0.CaughtUp {
				break
			}
			if ch == nodes {
				c.seeMember(ch0)
			} else {
				c.seeClaim(ch0)
			}
		}
	}
}

// Node is this node's name.
func (c *Cluster) Node() string { return c.o.Node }

// TTL is how long a claim lasts unrenewed.
func (c *Cluster) TTL() time.Duration { return c.o.TTL }

func (c *Cluster) self() Member {
	c.mu.Lock()
	units := c.wanted()
	c.mu.Unlock()
	return Member{Name: c.o.Node, Instance: c.instance, Addr: c.o.Addr, Started: c.started, LastSeen: time.Now().UTC(),
		Tables: c.o.Tables, Units: units}
}

// wanted is how many units this node runs or waits to run; c.mu is held.
func (c *Cluster) wanted() int {
	n := 0
	for _, w := range c.wants {
		if w.ctx.Err() == nil {
			n++
		}
	}
	return n
}

// register writes the node's registration; one of a process before this
// one under the same name is taken over, with a warning: if that process
// still runs, two nodes share a name.
func (c *Cluster) register(ctx context.Context) error {
	raw, _ := json.Marshal(c.self())
	sent := time.Now()
	rev, err := c.nodes.Create(ctx, c.o.Node, raw)
	if errors.Is(err, engine.ErrExists) {
		var old []byte
		var oldRev uint64
		old, oldRev, err = c.nodes.Get(ctx, c.o.Node)
		if err == nil {
			var m Member
			_ = json.Unmarshal(old, &m)
			c.log.Warn("this node's name was registered by another process, which this one replaces; if that process still runs, give each node its own --node",
				"other_instance", m.Instance, "other_addr", m.Addr, "other_last_seen", m.LastSeen)
			rev, err = c.nodes.Update(ctx, c.o.Node, raw, oldRev)
		} else if errors.Is(err, engine.ErrNotFound) {
			rev, err = c.nodes.Create(ctx, c.o.Node, raw) // expired in between
		}
	}
	if err != nil {
		return fmt.Errorf("register node %q: %w", c.o.Node, err)
	}
	c.mu.Lock()
	c.me, c.meSent = rev, sent
	c.mu.Unlock()
	return nil
}

// Members are the live nodes, this one included, by name.
func (c *Cluster) Members() []Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	var out []Member
	for _, s := range c.members {
		if now.Sub(s.seen) <= c.o.TTL {
			out = append(out, s.m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Claims are the units claimed and not expired, by unit.
func (c *Cluster) Claims() map[string]Claim {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	out := make(map[string]Claim, len(c.claims))
	for u, s := range c.claims {
		if now.Sub(s.seen) <= c.o.TTL {
			out[u] = s.c
		}
	}
	return out
}

// Holder is who runs unit, if anyone does.
func (c *Cluster) Holder(unit string) (Claim, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.claims[unit]
	if !ok || time.Since(s.seen) > c.o.TTL {
		return Claim{}, false
	}
	return s.c, true
}

// Wants reports whether this node runs unit or waits to.
func (c *Cluster) Wants(unit string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.wants[unit]
	return ok && w.ctx.Err() == nil
}

// Settled reports whether every unit this node waits for runs somewhere:
// on this node or, as far as this node has seen, on another.
func (c *Cluster) Settled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for u, w := range c.wants {
		if w.held {
			continue
		}
		if s, ok := c.claims[u]; !ok || s.c.Node == c.o.Node || now.Sub(s.seen) > c.o.TTL {
			return false
		}
	}
	return true
}

// Holds reports whether this node runs unit now.
func (c *Cluster) Holds(unit string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.wants[unit]
	return ok && w.held
}

// Hold waits until this node may run unit, and returns a context that
// ends when it may no longer (the claim was lost, given back to another
// node, or ctx ended), and a release to call once the run ended: it gives
// the claim up at once, so another node need not wait for it to expire.
// One Hold per unit at a time. A claim lost (or given back) before Hold
// returned it is waited for again: only ctx or Close end the wait, so a
// node never stops wanting a unit it defines.
func (c *Cluster) Hold(ctx context.Context, unit string) (context.Context, func(), error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, nil, ErrClosed
		}
		if _, dup := c.wants[unit]; dup {
			c.mu.Unlock()
			return nil, nil, fmt.Errorf("lease: %q is held or waited for already", unit)
		}
		w := &want{unit: unit, granted: make(chan struct{})}
		w.ctx, w.cancel = context.WithCancel(ctx)
		c.wants[unit] = w
		c.mu.Unlock()
		c.poke()
		select {
		case <-w.granted:
		case <-w.ctx.Done():
		}
		release := func() { c.release(w) }
		if ctx.Err() != nil {
			release()
			return nil, nil, ctx.Err()
		}
		if w.ctx.Err() == nil {
			return w.ctx, release, nil
		}
		// Lost or given back as soon as granted (a contested claim while
		// NATS servers restart), or closed: release, then wait again unless
		// closed. Returning an error here would make the caller stop
		// wanting the unit for good.
		release()
	}
}

// release ends a want: its run ended (or never began).
func (c *Cluster) release(w *want) {
	w.cancel()
	c.mu.Lock()
	if c.wants[w.unit] == w {
		delete(c.wants, w.unit)
	}
	held, rev := w.held, w.rev
	w.held = false
	c.mu.Unlock()
	if held {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.leases.DeleteIf(ctx, w.unit, rev); err != nil && !errors.Is(err, engine.ErrConflict) && !errors.Is(err, engine.ErrNotFound) {
			c.log.Warn("lease: could not give a unit back; it expires by itself", "unit", w.unit, "err", err)
		}
		c.log.Info("lease: gave a unit back", "unit", w.unit)
	}
	c.poke()
}

func (c *Cluster) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Close stops: runs still holding a claim see their contexts end (their
// claims expire by themselves if they are not released), Holds in
// progress end with ErrClosed, and the registration is given up. Call it
// once the runs ended and released their claims, so that other nodes
// take them at once.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	for _, w := range c.wants {
		w.cancel()
	}
	me := c.me
	c.mu.Unlock()
	c.stop()
	<-c.done
	if me != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.nodes.DeleteIf(ctx, c.o.Node, me)
	}
}

// spread orders units differently on each node (a hash of node and unit),
// so that nodes starting together mostly try different ones first.
func spread(node string, units []string) {
	h := func(u string) uint64 {
		f := fnv.New64a()
		_, _ = f.Write([]byte(node + "\x00" + u))
		return f.Sum64()
	}
	sort.Slice(units, func(i, j int) bool { return h(units[i]) < h(units[j]) })
}
