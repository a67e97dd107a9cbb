// Package jetstream is the NATS JetStream engine: an embedded server with
// file storage under the data directory, or an external server or cluster
// reached by URL. Both use the same client code path. The embedded server's
// storage limits are set in limits.go; guard.go keeps it off a full disk and
// brings it back when space returns. An external NATS is connected to in
// the background (conn.go): the engine opens while it is down, and fails
// operations at once until it is reached. Appends to a replicated stream
// that answers nothing (no leader, no quorum) give up after a patience and
// say why (stall.go); creations retry the cluster's "not now" (create.go).
// Credentials (auth.go) are the embedded server's users and what sluice's
// connection presents; a server that refuses them is no outage. Reads are
// direct gets, which any replica answers; on a cluster the stream's leader
// confirms every "nothing more" and answers where an origin left off
// (leader.go), and a node reads its own recent writes of a bucket
// (kvfresh.go).
package jetstream

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// embedded starts an in-process NATS server with JetStream storing under
// storeDir, within lim (see limits.go). It opens no network port unless
// listen (host:port) is set; with credentials, clients need a user
// (auth.go). Every error and warning the server logs also
// goes to notice.
func embedded(storeDir, listen string, creds Credentials, lim storeLimits, log *slog.Logger, notice func(string)) (*server.Server, *server.Options, error) {
	opts := &server.Options{
		ServerName:         "sluice",
		JetStream:          true,
		StoreDir:           storeDir,
		DontListen:         listen == "",
		NoSigs:             true,
		MaxPayload:         8 << 20, // events up to 1 MiB by default, up to 8 MiB if configured
		JetStreamMaxMemory: maxMemory,
		JetStreamMaxStore:  lim.MaxStore,
	}
	if listen != "" {
		host, port, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, nil, fmt.Errorf("nats listen address %q: %w", listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, nil, fmt.Errorf("nats listen port %q: %w", port, err)
		}
		opts.Host, opts.Port = host, p
	}
	if err := creds.serve(opts); err != nil {
		return nil, nil, err
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded nats: %w", err)
	}
	s.SetLoggerV2(serverLog{log.With("component", "nats"), notice}, false, false, false)
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, nil, fmt.Errorf("embedded nats: not ready after 30s (data dir %s)", opts.StoreDir)
	}
	return s, opts, nil
}

// serverLog sends the embedded server's log lines to slog, and its errors
// and warnings to notice too.
type serverLog struct {
	l      *slog.Logger
	notice func(string)
}

func (s serverLog) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLog) Warnf(format string, v ...any)   { s.report(slog.LevelWarn, format, v) }
func (s serverLog) Fatalf(format string, v ...any)  { s.report(slog.LevelError, format, v) }
func (s serverLog) Errorf(format string, v ...any)  { s.report(slog.LevelError, format, v) }
func (s serverLog) Debugf(format string, v ...any)  {}
func (s serverLog) Tracef(format string, v ...any)  {}

func (s serverLog) report(level slog.Level, format string, v []any) {
	line := fmt.Sprintf(format, v...)
	s.l.Log(context.Background(), level, line)
	if s.notice != nil {
		s.notice(line)
	}
}
