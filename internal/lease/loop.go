package lease

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
)

// tick is how often the loop renews, claims and gives back: an eighth of
// the ttl, at most a second.
func (c *Cluster) tick() time.Duration { return min(c.o.TTL/8, time.Second) }

// renewEvery is how often a claim or the registration is written again.
func (c *Cluster) renewEvery() time.Duration { return c.o.TTL / 4 }

// fenceAfter is how long after its last successful renewal a node gives a
// claim up by itself: before the server can expire it (ttl after the
// server received that renewal, which is later than when it was sent).
func (c *Cluster) fenceAfter() time.Duration { return c.o.TTL * 3 / 4 }

// run keeps the node's registration and claims until ctx ends, following
// the other nodes' registrations and claims.
func (c *Cluster) run(ctx context.Context, nodesCh, leasesCh <-chan engine.KVChange) {
	t := time.NewTicker(c.tick())
	defer t.Stop()
	for {
		if nodesCh == nil || leasesCh == nil {
			nodesCh, leasesCh = c.rewatch(ctx, nodesCh, leasesCh)
		}
		select {
		case <-ctx.Done():
			return
		case ch, ok := <-nodesCh:
			if !ok {
				nodesCh = nil
				continue
			}
			c.seeMember(ch)
		case ch, ok := <-leasesCh:
			if !ok {
				leasesCh = nil
				continue
			}
			c.seeClaim(ch)
		case <-t.C:
			c.step(ctx)
		case <-c.kick:
			c.step(ctx)
		}
	}
}

// rewatch opens again the watches that ended (the engine restarted, or
// the connection was lost); a nil channel blocks until the next try.
func (c *Cluster) rewatch(ctx context.Context, nodesCh, leasesCh <-chan engine.KVChange) (<-chan engine.KVChange, <-chan engine.KVChange) {
	var err error
	if nodesCh == nil {
		if nodesCh, err = c.nodes.Watch(ctx, ""); err != nil {
			c.log.Debug("lease: cannot watch the nodes yet", "err", err)
			nodesCh = nil
		}
	}
	if leasesCh == nil {
		if leasesCh, err = c.leases.Watch(ctx, ""); err != nil {
			c.log.Debug("lease: cannot watch the leases yet", "err", err)
			leasesCh = nil
		}
	}
	if nodesCh == nil || leasesCh == nil {
		select { // try again in a tick; the loop's other cases wait meanwhile
		case <-ctx.Done():
		case <-time.After(c.tick()):
		}
	}
	return nodesCh, leasesCh
}

func (c *Cluster) seeMember(ch engine.KVChange) {
	if ch.CaughtUp {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch.Deleted {
		delete(c.members, ch.Key)
		return
	}
	var m Member
	if json.Unmarshal(ch.Value, &m) == nil {
		c.members[ch.Key] = seenMember{m: m, seen: time.Now()}
	}
}

// seeClaim notes a claim; one of a unit this node holds, written by
// another, means the claim is lost (it expired and was taken).
func (c *Cluster) seeClaim(ch engine.KVChange) {
	if ch.CaughtUp {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch.Deleted {
		delete(c.claims, ch.Key)
		return
	}
	var cl Claim
	if json.Unmarshal(ch.Value, &cl) != nil {
		return
	}
	c.claims[ch.Key] = seenClaim{c: cl, seen: time.Now()}
	if w, ok := c.wants[ch.Key]; ok && w.held && cl.Instance != c.instance {
		c.lose(w, "another node claimed it", nil)
	}
}

// lose ends a held claim: its run is told to stop; c.mu is held.
func (c *Cluster) lose(w *want, why string, err error) {
	c.log.Warn("lease: lost a unit; its run stops", "unit", w.unit, "why", why, "err", err)
	w.held = false
	w.cancel()
}

// step renews, gives back what is over the share, and claims what is
// under it.
func (c *Cluster) step(ctx context.Context) {
	c.renewSelf(ctx)
	c.renewClaims(ctx)
	c.balance(ctx)
}

func (c *Cluster) renewSelf(ctx context.Context) {
	c.mu.Lock()
	rev, sent := c.me, c.meSent
	c.mu.Unlock()
	if time.Since(sent) < c.renewEvery() {
		return
	}
	raw, _ := json.Marshal(c.self())
	now := time.Now()
	rctx, cancel := context.WithTimeout(ctx, c.renewEvery())
	defer cancel()
	next, err := c.nodes.Update(rctx, c.o.Node, raw, rev)
	switch {
	case err == nil:
		c.mu.Lock()
		c.me, c.meSent = next, now
		c.mu.Unlock()
	case errors.Is(err, engine.ErrConflict), errors.Is(err, engine.ErrNotFound):
		c.log.Warn("lease: this node's registration expired or was taken; registering again", "err", err)
		if err := c.register(ctx); err != nil {
			c.log.Warn("lease: cannot register", "err", err)
		}
	default:
		c.log.Debug("lease: cannot renew the registration yet", "err", err)
	}
}

func (c *Cluster) renewClaims(ctx context.Context) {
	c.mu.Lock()
	var due []*want
	for _, w := range c.wants {
		if w.held && time.Since(w.sent) >= c.renewEvery() {
			due = append(due, w)
		}
	}
	c.mu.Unlock()
	for _, w := range due {
		c.mu.Lock()
		rev, since, left := w.rev, w.since, c.fenceAfter()-time.Since(w.sent)
		if left <= 0 && w.held {
			c.lose(w, "could not renew its claim in time", nil)
		}
		held := w.held
		c.mu.Unlock()
		if !held {
			continue
		}
		// A renewal that hangs must not hold the fence back: it waits at
		// most until the claim is given up anyway.
		rctx, cancel := context.WithTimeout(ctx, left)
		now := time.Now()
		next, err := c.leases.Update(rctx, w.unit, c.claim(since), rev)
		cancel()
		c.mu.Lock()
		switch {
		case !w.held: // given back or lost meanwhile
		case err == nil:
			w.rev, w.sent = next, now
		case errors.Is(err, engine.ErrConflict), errors.Is(err, engine.ErrNotFound):
			c.lose(w, "its claim expired", err)
		case time.Since(w.sent) >= c.fenceAfter():
			c.lose(w, "could not renew its claim in time", err)
		}
		c.mu.Unlock()
	}
}

func (c *Cluster) claim(since time.Time) []byte {
	raw, _ := json.Marshal(Claim{Node: c.o.Node, Instance: c.instance, Addr: c.o.Addr, Since: since, Renewed: time.Now().UTC()})
	return raw
}

// share is the most units this node takes: those it wants over the live
// nodes that want any (this one included), rounded up. c.mu is held.
func (c *Cluster) share() int {
	total := c.wanted()
	n := 1
	now := time.Now()
	for name, s := range c.members {
		if name != c.o.Node && s.m.Units > 0 && now.Sub(s.seen) <= c.o.TTL {
			n++
		}
	}
	return (total + n - 1) / n
}

// balance gives back one unit when over the share, else claims free
// units while under it, and any unit that ran nowhere for a ttl.
func (c *Cluster) balance(ctx context.Context) {
	c.mu.Lock()
	share := c.share()
	now := time.Now()
	var held, free []string
	ending := false
	for u, w := range c.wants {
		switch {
		case w.ctx.Err() != nil:
			ending = true // lost or given back, its run has not ended yet
		case w.held:
			held = append(held, u)
		default:
			if s, ok := c.claims[u]; ok && s.c.Node != c.o.Node && now.Sub(s.seen) <= c.o.TTL {
				w.freeSince = time.Time{} // another node runs it (one of this node's name is taken back: see take)
				continue
			}
			if w.freeSince.IsZero() {
				w.freeSince = now
			}
			free = append(free, u)
		}
	}
	if len(held) > share {
		spread(c.o.Node, held)
		for i := len(held) - 1; i >= 0 && !ending; i-- { // one at a time: the next once this one's run ended
			w := c.wants[held[i]]
			if now.Before(w.keep) {
				continue
			}
			c.log.Info("lease: giving a unit back to share the work", "unit", w.unit, "held", len(held), "share", share)
			w.cancel() // its run ends, then its release gives the claim back
			ending = true
		}
		c.mu.Unlock()
		return
	}
	spread(c.o.Node, free)
	var try []string
	var overdue []bool
	for _, u := range free {
		late := now.Sub(c.wants[u].freeSince) > c.o.TTL
		if len(held)+len(try) >= share && !late {
			continue
		}
		try, overdue = append(try, u), append(overdue, late && len(held)+len(try) >= share)
	}
	c.mu.Unlock()
	began := time.Now()
	for i, u := range try {
		if time.Since(began) > c.tick() {
			break // the rest next time: renewals (and the fence) must not wait behind claims
		}
		tctx, cancel := context.WithTimeout(ctx, c.tick())
		c.take(tctx, u, overdue[i])
		cancel()
	}
}

// take tries to claim unit; one taken beyond the share (keep) is kept a
// while (see balance).
func (c *Cluster) take(ctx context.Context, unit string, keep bool) {
	since := time.Now().UTC()
	sent := time.Now()
	rev, err := c.leases.Create(ctx, unit, c.claim(since))
	if errors.Is(err, engine.ErrExists) {
		// Ours from a process before this one (the same node name), or
		// from this one when the answer to its create was lost: taken
		// back at once. Another node's: left to run, or to expire.
		raw, cur, gerr := c.leases.Get(ctx, unit)
		var cl Claim
		if gerr != nil || json.Unmarshal(raw, &cl) != nil || cl.Node != c.o.Node {
			return
		}
		sent = time.Now()
		if rev, err = c.leases.Update(ctx, unit, c.claim(since), cur); err == nil {
			c.log.Info("lease: took back a unit this node's previous process held", "unit", unit, "instance", cl.Instance)
		}
	}
	if err != nil {
		if !errors.Is(err, engine.ErrExists) && !errors.Is(err, engine.ErrConflict) {
			c.log.Debug("lease: cannot claim yet", "unit", unit, "err", err)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.wants[unit]
	if !ok || w.ctx.Err() != nil || w.held {
		// No longer wanted meanwhile: give it straight back.
		go func() {
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = c.leases.DeleteIf(dctx, unit, rev)
		}()
		return
	}
	w.held, w.rev, w.sent, w.since = true, rev, sent, since
	if keep {
		w.keep = time.Now().Add(10 * c.o.TTL)
	}
	close(w.granted)
	c.log.Info("lease: runs a unit", "unit", unit)
}
