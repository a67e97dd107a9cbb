package files

import (
	"github.com/sluice-dev/sluice/internal/lease"
	"github.com/sluice-dev/sluice/internal/lifecycle"
)

// Standby is the state of a sink that runs on another node (or waits to
// run here): Status.Node names the node that runs it.
const Standby = "standby"

// Unit is a sink's unit of work among nodes (package lease).
func Unit(name string) string { return "files." + name }

// Share makes each sink run only on the node that holds its unit
// (package lease); call it before Start. Without it every sink runs on
// this node.
func (g *Group) Share(c *lease.Cluster) {
	g.cluster = c
	g.sinks.SetGate("files", c)
}

// placed is s with the node that runs it (and Standby if that is not this one).
func (g *Group) placed(e lifecycle.Entry[*Sink], s Status) Status {
	if g.cluster == nil {
		return s
	}
	if e.State != lifecycle.Standby {
		s.Node = g.cluster.Node()
		return s
	}
	s.State, s.Node = Standby, ""
	if h, ok := g.cluster.Holder(Unit(e.Name)); ok && h.Node != g.cluster.Node() {
		s.Node = h.Node
	}
	return s
}
