package pipeline

import (
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

// standby is why a pipeline in e does not run here (nil: it does).
func (m *Manager) standby(e lifecycle.Entry[*runner]) error {
	if m.cluster == nil || e.State != lifecycle.Standby {
		return nil
	}
	return m.cluster.Elsewhere(Unit(e.Name))
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
