package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/internal/lease"
	"github.com/sluice-dev/sluice/internal/lifecycle"
)

// Standby is the state of a pipeline that runs on another node (or waits
// to run here): Status.Node names the node that runs it.
const Standby = "standby"

// Unit is a pipeline's unit of work among nodes (package lease).
func Unit(name string) string { return "pipelines." + name }

// Share makes each pipeline run only on the node that holds its unit
// (package lease); call it before Start. Without it every pipeline runs
// on this node.
func (m *Manager) Share(c *lease.Cluster) {
	m.cluster = c
	m.runners.SetGate("pipelines", c)
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

// placed is s with the node that runs it (and Standby if that is not this one).
func (m *Manager) placed(e lifecycle.Entry[*runner], s Status) Status {
	if m.cluster == nil {
		return s
	}
	if e.State != lifecycle.Standby {
		s.Node = m.cluster.Node()
		return s
	}
	s.State = Standby
	if h, ok := m.cluster.Holder(Unit(e.Name)); ok && h.Node != m.cluster.Node() {
		s.Node = h.Node
	} else {
		s.Node = ""
	}
	return s
}
