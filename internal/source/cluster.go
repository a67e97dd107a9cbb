package source

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/internal/lease"
	"github.com/sluice-dev/sluice/internal/lifecycle"
)

// Standby is the state of a source that runs on another node (or waits to
// run here): StatusView.Node names the node that runs it.
const Standby = "standby"

// Unit is a source's unit of work among nodes (package lease).
func Unit(name string) string { return "sources." + name }

// Share makes each source run only on the node that holds its unit
// (package lease); call it before Start. Without it every source runs on
// this node.
func (m *Manager) Share(c *lease.Cluster) {
	m.cluster = c
	m.runners.SetGate("sources", c)
}

// standby is why the component of name does not run here (nil: it does,
// or it is not under a gate); e is its entry then. One that runs nowhere
// yet gets a moment to be taken (lease.Cluster.Await).
func (m *Manager) standby(ctx context.Context, name string) (lifecycle.Entry[*runner], error) {
	e, ok := m.runners.Get(name)
	if !ok {
		return e, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if m.cluster == nil || e.State != lifecycle.Standby {
		return e, nil
	}
	if m.cluster.Await(ctx, Unit(name)) {
		deadline := time.Now().Add(lease.AwaitWait)
		for e.State == lifecycle.Standby && time.Now().Before(deadline) { // held: its run is starting
			time.Sleep(10 * time.Millisecond)
			if e, ok = m.runners.Get(name); !ok {
				return e, fmt.Errorf("%w: %q", ErrNotFound, name)
			}
		}
		if e.State != lifecycle.Standby {
			return e, nil
		}
	}
	return e, m.cluster.Elsewhere(Unit(name))
}

// placed is v with the node that runs it (and Standby if that is not this one).
func (m *Manager) placed(e lifecycle.Entry[*runner], v StatusView) StatusView {
	if m.cluster == nil {
		return v
	}
	if e.State != lifecycle.Standby {
		v.Node = m.cluster.Node()
		return v
	}
	v.State, v.Node = Standby, ""
	if h, ok := m.cluster.Holder(Unit(e.Name)); ok && h.Node != m.cluster.Node() {
		v.Node = h.Node
	}
	return v
}
