package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
)

type serveFlags struct {
	config, data, addr, nats, natsListen string
	node                                 string
	logLevel                             string
	progress                             time.Duration
}

func newServe(g *globals) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a sluice node: embedded NATS JetStream (or --nats URL), sources, pipelines and the HTTP API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd)
			if err != nil {
				return err
			}
			tuneGC()
			return serve(cmd.Context(), cfg, newLogger(g, f.logLevel), f.options(g))
		},
	}
	cmd.Flags().StringVar(&f.config, "config", "", "config file (sluice.yaml): streams to declare, limits, engine")
	f.register(cmd, "./data")
	return cmd
}

// register adds the flags serve and demo share; data is the default data
// directory, for the help text.
func (f *serveFlags) register(cmd *cobra.Command, data string) {
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", "", "data directory for the embedded engine (default "+data+")")
	fl.StringVar(&f.addr, "addr", "", "HTTP listen address (default 127.0.0.1:8080)")
	fl.StringVar(&f.nats, "nats", "", "external NATS URL(s), nats://host:port[,...]; default: embedded server")
	fl.StringVar(&f.node, "node", "", "this node's name among the nodes sharing the NATS cluster (default: the host name)")
	fl.StringVar(&f.natsListen, "nats-listen", "", "let NATS clients reach the embedded server on host:port (default: no port)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.DurationVar(&f.progress, "progress", DefaultProgress, "print a progress line (events in, processed, dead-lettered, lag) this often on stderr; 0: never")
}

func (f *serveFlags) options(g *globals) serveOptions {
	return serveOptions{progress: f.progress, progressOut: g.errOut}
}

// serveOptions are what serve does besides running the node.
type serveOptions struct {
	progress    time.Duration // 0: no progress line
	progressOut io.Writer
	started     func(n *node.Node) // called once the node serves
}

// load reads the config file (if any); flags win over it.
func (f *serveFlags) load(cmd *cobra.Command) (*config.Config, error) {
	cfg := config.Default()
	if f.config != "" {
		var err error
		if cfg, err = config.Load(f.config); err != nil {
			return nil, err
		}
	}
	f.apply(cmd, cfg)
	return cfg, cfg.Validate()
}

// apply makes the flags given win over cfg.
func (f *serveFlags) apply(cmd *cobra.Command, cfg *config.Config) {
	fl := cmd.Flags()
	if fl.Changed("data") {
		cfg.Data = f.data
	}
	if fl.Changed("addr") {
		cfg.Addr = f.addr
	}
	if fl.Changed("nats") {
		cfg.NATS.URL = f.nats
	}
	if fl.Changed("nats-listen") {
		cfg.NATS.Listen = f.natsListen
	}
	if fl.Changed("node") {
		cfg.Node = f.node
	}
}

// tuneGC trades memory for CPU: validating events allocates many small
// short-lived objects, and at the default GOGC=100 the collector takes a
// third of a produce call's time. GOGC=400 lets the heap grow to five times
// the live data (tens of MB here) and raises produce throughput ~10%
// (docs/BENCHMARKS.md). An explicit GOGC or GOMEMLIMIT in the environment wins.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

func newLogger(g *globals, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(g.errOut, &slog.HandlerOptions{Level: l}))
}

// serve runs a node until SIGINT or SIGTERM, then shuts it down cleanly.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, o serveOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := node.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	select { // an external NATS out of reach: the node starts once it answers
	case <-n.Up():
	case <-ctx.Done():
		log.Info("shutting down before NATS answered")
		return n.Shutdown(context.Background())
	case err := <-n.Done():
		_ = n.Shutdown(context.Background())
		return err
	}
	if o.started != nil {
		o.started(n)
	}
	pctx, stopProgress := context.WithCancel(ctx)
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		progress(pctx, o.progressOut, o.progress, statusLister{sources: n.Sources.List, pipelines: n.Pipelines.List})
	}()
	defer func() { stopProgress(); <-progressDone }()
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-n.Done():
		if !errors.Is(err, http.ErrServerClosed) {
			_ = n.Shutdown(context.Background())
			return fmt.Errorf("http server: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
