package lease

import (
	"context"
	"errors"
	"fmt"
	"time"
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

// AwaitWait is how long Await waits for a unit that runs nowhere to be
// taken (at start-up, or just after it was put anew, claims take a moment).
const AwaitWait = 2 * time.Second

// Await waits, at most AwaitWait or until ctx ends, until unit runs on
// some node, if this node wants it; it reports whether it runs here.
func (c *Cluster) Await(ctx context.Context, unit string) bool {
	deadline := time.Now().Add(AwaitWait)
	for {
		if c.Holds(unit) {
			return true
		}
		if h, ok := c.Holder(unit); (ok && h.Node != c.o.Node) || !c.Wants(unit) || time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Elsewhere is the error for unit, which this node does not run.
func (c *Cluster) Elsewhere(unit string) *ElsewhereError {
	e := &ElsewhereError{Unit: unit}
	if h, ok := c.Holder(unit); ok && h.Node != c.o.Node {
		e.Node, e.Addr = h.Node, h.Addr
	}
	return e
}
