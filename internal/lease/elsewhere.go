package lease

import (
	"errors"
	"fmt"
)

// ErrElsewhere is returned for a request that only the node running a
// unit can serve (pause a pipeline, redrive it), asked of another node.
var ErrElsewhere = errors.New("runs on another node")

// ElsewhereError names the node that runs a unit, if one does: Node is
// empty while the unit moves between nodes.
type ElsewhereError struct {
	Unit string
	Node string
	Addr string // the node's HTTP address
}

func (e *ElsewhereError) Error() string {
	if e.Node == "" {
		return fmt.Sprintf("%s runs on no node at the moment (it moves to another node); try again in a few seconds", e.Unit)
	}
	return fmt.Sprintf("%s runs on node %s (%s)", e.Unit, e.Node, e.Addr)
}

func (e *ElsewhereError) Unwrap() error { return ErrElsewhere }

// Elsewhere is the error for unit, which this node does not run.
func (c *Cluster) Elsewhere(unit string) *ElsewhereError {
	e := &ElsewhereError{Unit: unit}
	if h, ok := c.Holder(unit); ok && h.Node != c.o.Node {
		e.Node, e.Addr = h.Node, h.Addr
	}
	return e
}
