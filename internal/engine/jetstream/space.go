package jetstream

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/engine"
)

// storeFull says whether JetStream's store limit stops appends: a server
// refuses a message once what it stores is over its limit (an external
// server's account limit, when it has one, a little before).
func (e *Engine) storeFull(info *jetstream.AccountInfo) error {
	used := int64(info.Store)
	switch {
	case e.guard != nil && used > e.guard.lim.MaxStore:
		return &engine.SpaceError{Cause: engine.StoreLimit, Used: used, Limit: e.guard.lim.MaxStore}
	case e.guard == nil && info.Limits.MaxStore > 0 && used >= info.Limits.MaxStore:
		return &engine.SpaceError{Cause: engine.StoreLimit, Used: used, Limit: info.Limits.MaxStore}
	}
	return nil
}

// storeLimitErr is the error of a message refused for the store limit,
// with what is stored and the limit.
func (e *Engine) storeLimitErr(ctx context.Context) *engine.SpaceError {
	se := &engine.SpaceError{Cause: engine.StoreLimit}
	if e.srv != nil {
		se.Used, se.Limit = int64(e.srv.GlobalAccount().JetStreamUsage().Store), e.guard.lim.MaxStore
		return se
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if info, err := e.js.AccountInfo(ctx); err == nil {
		se.Used = int64(info.Store)
		se.Limit = max(info.Limits.MaxStore, 0)
	}
	return se
}
