// Package jetstream is the NATS JetStream engine: an embedded server with
// file storage under the data directory, or an external server or cluster
// reached by URL. Both use the same client code path.
package jetstream

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// embedded starts an in-process NATS server with JetStream. It opens no
// network port unless listen (host:port) is set.
func embedded(dir, listen string, log *slog.Logger) (*server.Server, error) {
	opts := &server.Options{
		ServerName:         "sluice",
		JetStream:          true,
		StoreDir:           filepath.Join(dir, "jetstream"),
		DontListen:         listen == "",
		NoSigs:             true,
		MaxPayload:         8 << 20, // events up to 1 MiB by default, up to 8 MiB if configured
		JetStreamMaxMemory: 256 << 20,
	}
	if listen != "" {
		host, port, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, fmt.Errorf("nats listen address %q: %w", listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("nats listen port %q: %w", port, err)
		}
		opts.Host, opts.Port = host, p
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	s.SetLoggerV2(serverLog{log.With("component", "nats")}, false, false, false)
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: not ready after 30s (data dir %s)", opts.StoreDir)
	}
	return s, nil
}

// serverLog sends the embedded server's log lines to slog.
type serverLog struct{ l *slog.Logger }

func (s serverLog) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLog) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLog) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLog) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLog) Debugf(format string, v ...any)  {}
func (s serverLog) Tracef(format string, v ...any)  {}
