package jetstream

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sluice-dev/sluice/internal/engine"
)

// guard keeps an embedded server's store off a full disk, and brings the
// store back when space returns.
//
// Before a batch is sent, admit checks the free space: a batch that would
// take it below the reserve is refused whole. If the disk fills anyway (the
// reserve is 0, or another process filled it), the write that hits ENOSPC
// fails in nats-server's file store and the error sticks: that stream
// stores nothing more, and answers nothing either (a single server does not
// disable JetStream; handleOutOfSpace is for clusters), so publishes would
// wait for acks that never come. The guard notices (the server logs the
// error; a periodic health check backs that up), marks the store full, so
// admit refuses at once and pending Waits settle with a barrier, and when
// space returns it restarts JetStream in the same process: the streams are
// opened again from their files, which clears the error; the client
// connection stays up.
type guard struct {
	srv  *server.Server
	opts *server.Options // as the server was started, to enable JetStream again
	dir  string          // the store directory
	lim  storeLimits
	log  *slog.Logger

	inflight atomic.Int64 // bytes admitted and not yet settled
	active   atomic.Int64 // publishes admitted and not yet settled

	mu      sync.Mutex
	full    *engine.SpaceError // a write failed for lack of space; nil: the store works
	changed chan struct{}      // closed, and replaced, whenever full changes
	noticed string             // the last out-of-space error the server logged

	kick chan struct{}
	stop context.CancelFunc
	done chan struct{}
}

const (
	checkEvery  = time.Second // how often the guard looks at the disk
	healthEvery = 10          // a health check every this many looks, without a log line to prompt it
	// minRestartFree is the least free space at which a full store is
	// restarted when the node keeps no reserve: starting JetStream writes
	// index and state files.
	minRestartFree = 1 << 20
	settleWait     = 30 * time.Second // how long a restart waits for publishes in flight
)

func newGuard(dir string, lim storeLimits, log *slog.Logger) *guard {
	return &guard{dir: dir, lim: lim, log: log, changed: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// start watches the disk until close.
func (g *guard) start(srv *server.Server, opts *server.Options) {
	g.srv, g.opts = srv, opts
	ctx, cancel := context.WithCancel(context.Background())
	g.stop, g.done = cancel, make(chan struct{})
	go func() {
		defer close(g.done)
		g.watch(ctx)
	}()
}

func (g *guard) close() {
	if g != nil && g.stop != nil {
		g.stop()
		<-g.done
	}
}

// admit takes n bytes of room for a batch, or says why there is none.
// The release it returns must be called once the batch is settled.
func (g *guard) admit(n int64) (release func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	g.active.Add(1)
	in := g.inflight.Add(n)
	release = func() {
		g.inflight.Add(-n)
		g.active.Add(-1)
	}
	if full, _ := g.state(); full != nil {
		release()
		return nil, full
	}
	if g.lim.Reserve > 0 {
		if _, free, err := diskUsage(g.dir); err == nil && free-in < g.lim.Reserve {
			release()
			return nil, &engine.SpaceError{Cause: engine.DiskReserve, Free: free, Reserve: g.lim.Reserve, Path: g.dir}
		}
	}
	return release, nil
}

// state is the store's failure for lack of space (nil: none) and a channel
// closed when that changes. A nil guard never changes.
func (g *guard) state() (*engine.SpaceError, <-chan struct{}) {
	if g == nil {
		return nil, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.full, g.changed
}

func (g *guard) setFull(full *engine.SpaceError) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.full = full
	close(g.changed)
	g.changed = make(chan struct{})
}

// check is nil when appends can go ahead as far as the disk is concerned.
func (g *guard) check() error {
	if g == nil {
		return nil
	}
	if full, _ := g.state(); full != nil {
		return full
	}
	if g.lim.Reserve > 0 {
		if _, free, err := diskUsage(g.dir); err == nil && free < g.lim.Reserve {
			return &engine.SpaceError{Cause: engine.DiskReserve, Free: free, Reserve: g.lim.Reserve, Path: g.dir}
		}
	}
	return nil
}

// noticeLog is given every error and warning the server logs.
func (g *guard) noticeLog(line string) {
	if !isNoSpace(line) {
		return
	}
	g.mu.Lock()
	g.noticed = line
	g.mu.Unlock()
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// isNoSpace is nats-server's own test (isOutOfSpaceErr), plus quotas.
func isNoSpace(s string) bool {
	return strings.Contains(s, "no space left on device") || strings.Contains(s, "disk quota exceeded")
}

func (g *guard) watch(ctx context.Context) {
	tick := time.NewTicker(checkEvery)
	defer tick.Stop()
	for n := 1; ; n++ {
		kicked := false
		select {
		case <-ctx.Done():
			return
		case <-g.kick:
			kicked = true
		case <-tick.C:
		}
		full, _ := g.state()
		switch {
		case full == nil && (kicked || n%healthEvery == 0):
			if err := g.writeError(); err != nil {
				g.log.Error("the disk is full: appends are refused until space returns", "err", err)
				g.setFull(err)
			}
		case full != nil && g.spaceReturned():
			g.restart(ctx)
		}
	}
}

// writeError asks the server whether a stream failed to write for lack of space.
func (g *guard) writeError() *engine.SpaceError {
	g.mu.Lock()
	noticed := g.noticed
	g.mu.Unlock()
	detail := ""
	if !g.srv.JetStreamEnabled() {
		if noticed == "" {
			return nil // not for lack of space as far as we know (or being restarted by us)
		}
		detail = "JetStream is disabled: " + noticed
	}
	for _, e := range g.srv.Healthz(&server.HealthzOptions{Details: true}).Errors {
		if isNoSpace(e.Error) {
			detail = e.Error
			break
		}
	}
	if detail == "" {
		return nil
	}
	_, free, _ := diskUsage(g.dir)
	return &engine.SpaceError{Cause: engine.DiskFull, Free: free, Path: g.dir, Detail: detail}
}

func (g *guard) spaceReturned() bool {
	_, free, err := diskUsage(g.dir)
	return err == nil && free >= max(g.lim.Reserve, minRestartFree)
}

// restart stops JetStream and starts it again from its files, as a config
// reload does after JetStream was disabled at run time.
func (g *guard) restart(ctx context.Context) {
	start := time.Now()
	// admit refuses while the store is full; the publishes in flight end at
	// their barrier, let them settle before the streams close under them.
	for time.Since(start) < settleWait && g.active.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	g.mu.Lock()
	g.noticed = ""
	g.mu.Unlock()
	if err := g.srv.ShutdownJetStream(); err != nil {
		g.log.Error("space returned; stopping JetStream to reopen its store failed", "err", err)
		return
	}
	if err := g.srv.ReloadOptions(g.opts.Clone()); err != nil || !g.srv.JetStreamEnabled() {
		g.log.Error("space returned; starting JetStream again failed, trying again in a moment", "err", err)
		return
	}
	if err := g.writeError(); err != nil {
		g.log.Error("space returned, but the store still fails to write", "err", err)
		return
	}
	g.setFull(nil)
	_, free, _ := diskUsage(g.dir)
	g.log.Info("space returned: the store was reopened, appends go on", "took", time.Since(start), "disk_free", free)
}
