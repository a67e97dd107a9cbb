package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/httpapi"
)

// Up is closed once the node started: at once, or when NATS first
// answered if it was out of reach at Start. Its fields are set then.
func (n *Node) Up() <-chan struct{} { return n.up }

// swap is the HTTP handler that changes once the node started.
type swap struct{ h atomic.Pointer[http.Handler] }

func (s *swap) set(h http.Handler) { s.h.Store(&h) }

func (s *swap) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }

func (n *Node) setWaiting(err error) {
	why := err.Error()
	n.waitErr.Store(&why)
}

// waiting answers while the node waits for NATS: /healthz 200 (the
// process is alive), everything else 503 with the reason.
func (n *Node) waiting(w http.ResponseWriter, r *http.Request) {
	why := "starting"
	if p := n.waitErr.Load(); p != nil {
		why = *p
	}
	w.Header().Set("Retry-After", "5")
	if r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
		return
	}
	httpapi.WriteProblem(w, r, http.StatusServiceUnavailable, "Not ready",
		"the node waits for NATS and starts once it answers: "+why)
}

// startLater tries to start until it does, ctx ends, or a try fails
// otherwise than for want of NATS: the node then ends (Done).
func (n *Node) startLater(ctx context.Context, cfg *config.Config, declared []catalog.Definition, guard httpapi.GuardOptions) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = time.Second, 10*time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(b.NextBackOff()):
		}
		err := n.start(ctx, cfg, declared, guard)
		switch {
		case err == nil:
			n.log.Info("NATS answers: the node started")
			return
		case ctx.Err() != nil:
			return
		case errors.Is(err, engine.ErrUnavailable):
			n.setWaiting(err)
			n.log.Debug("NATS still out of reach", "err", err)
		default:
			n.log.Error("the node could not start", "err", err)
			n.done <- fmt.Errorf("start: %w", err)
			return
		}
	}
}

// clear forgets what a failed start put in place (it closed it).
func (n *Node) clear() {
	n.Engine, n.Streams, n.Sources, n.Functions, n.SourceKinds, n.OutputKinds = nil, nil, nil, nil, nil, nil
	n.Pipelines, n.Tables, n.Files, n.Defs, n.Project, n.API = nil, nil, nil, nil, nil, nil
	n.Registry, n.History, n.Cluster, n.runtime = nil, nil, nil, nil
}
