// Package node assembles one sluice node: the engine, the catalog, the
// stream service, the declared streams and the HTTP server; and takes them
// down in order.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/engine/jetstream"
	"github.com/sluice-dev/sluice/internal/files"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/history"
	"github.com/sluice-dev/sluice/internal/httpapi"
	"github.com/sluice-dev/sluice/internal/lease"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/source"
	"github.com/sluice-dev/sluice/internal/stream"
	"github.com/sluice-dev/sluice/internal/table"
	"github.com/sluice-dev/sluice/internal/token"
	"github.com/sluice-dev/sluice/internal/ui"
)

// Node is a running sluice node.
type Node struct {
	Engine    *jetstream.Engine
	Streams   *stream.Service
	Sources   *source.Manager
	Functions *function.Registry
	// SourceKinds are the kinds of sources this node runs (sse, file).
	SourceKinds *source.Registry
	// OutputKinds are the kinds of pipeline outputs (stream, table, sql, files).
	OutputKinds *pipeline.Outputs
	Pipelines   *pipeline.Manager
	Tables      table.Store // nil without tables
	Files       *files.Group
	Defs        *catalog.Definitions // the definitions of sources, pipelines, tables, functions
	Project     *project.Service     // creates, changes, deletes definitions (the self-service API)
	API         *httpapi.API
	Registry    *prometheus.Registry
	History     *history.Recorder // the last hour of lag and rate, per source and pipeline
	// Cluster is the node's part among the nodes sharing the engine: what
	// it runs of the sources, pipelines and files outputs (package lease).
	Cluster *lease.Cluster
	Tokens  *token.Store // access control's tokens (access.go)

	log     *slog.Logger
	dataDir string
	runtime *runtime // runs what the catalog defines
	srv     *http.Server
	handler *swap // the API, or the answer of a node waiting for NATS (waiting.go)
	ln      net.Listener
	up      chan struct{} // closed once started
	// While NATS is out of reach at start (waiting.go):
	waitErr    atomic.Pointer[string] // why the node is not started yet
	stopLater  context.CancelFunc     // ends the tries to start; nil if none
	later      sync.WaitGroup
	ready      atomic.Bool
	settled    atomic.Bool // its first claims are made (checkReady)
	readySince time.Time
	stop       context.CancelFunc // ends the node's own loops
	loops      sync.WaitGroup
	done       chan error

	peers httpapi.Peers // how to reach the other nodes: http, or https with http.tls (tls.go)
}

// Start opens the engine, applies the declared definitions and serves
// HTTP on cfg.Addr, HTTPS with http.tls ("127.0.0.1:0" picks a free
// port; see Addr and URL). With an
// external NATS out of reach it does not fail: the node serves /healthz,
// answers /readyz and every other request 503 with the reason, and
// starts by itself once NATS answers (Up is closed then; Done reports a
// definition that cannot run then, as Start would have).
func Start(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Node, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	declared, err := cfg.Definitions()
	if err != nil {
		return nil, err
	}
	if err := checkNATSPort(cfg); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	n := &Node{log: log, dataDir: cfg.Data, done: make(chan error, 1), ln: ln, up: make(chan struct{}), handler: &swap{}}
	hc := cfg.HTTP.WithDefaults()
	guard := httpapi.GuardOptions{Access: hc.Access(), Listen: cfg.Addr, BodyTimeout: time.Duration(hc.BodyTimeout), Logger: log}
	wait, err := httpapi.Guard(http.HandlerFunc(n.waiting), guard)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("http: %w", err)
	}
	n.handler.set(wait)
	n.srv = &http.Server{Handler: n.handler, ReadHeaderTimeout: time.Duration(hc.HeaderTimeout),
		IdleTimeout: time.Duration(hc.IdleTimeout), MaxHeaderBytes: int(hc.MaxHeaderBytes)}
	if n.peers, err = n.useTLS(cfg); err != nil {
		_ = ln.Close()
		return nil, err
	}
	err = n.start(ctx, cfg, declared, guard)
	switch {
	case err == nil:
	case errors.Is(err, engine.ErrUnavailable) && cfg.NATS.URL != "":
		log.Warn("NATS is out of reach: the node answers 503 and starts once NATS answers", "nats", cfg.NATS.URL, "err", err)
		n.setWaiting(err)
		later, cancel := context.WithCancel(context.WithoutCancel(ctx))
		n.stopLater = cancel
		n.later.Go(func() { n.startLater(later, cfg, declared, guard) })
	default:
		_ = ln.Close()
		return nil, err
	}
	go func() { n.done <- n.serve() }()
	return n, nil
}

// start opens the engine and puts everything in place; on an error it
// closes what it opened and leaves the node as it found it.
func (n *Node) start(ctx context.Context, cfg *config.Config, declared []catalog.Definition, guard httpapi.GuardOptions) error {
	log := n.log
	maxStore, minFree := cfg.NATS.StoreLimits()
	creds, err := natsCredentials(cfg)
	if err != nil {
		return err
	}
	eng, err := jetstream.Open(ctx, jetstream.Options{URL: cfg.NATS.URL, DataDir: cfg.Data, Listen: cfg.NATS.Listen,
		Replicas: cfg.KVReplicas(), MaxStore: maxStore, MinFreeDisk: minFree, Credentials: creds, Logger: log})
	if err != nil {
		return err
	}
	n.Engine, n.Registry, n.History = eng, prometheus.NewRegistry(), history.New(historyPoints)
	n.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	fail := func(err error) error {
		if n.Sources != nil {
			n.Sources.Stop()
		}
		if n.Pipelines != nil {
			n.Pipelines.Stop() // closes the functions and outputs put in place
		}
		if n.Functions != nil {
			_ = n.Functions.Close()
		}
		if n.Files != nil {
			n.Files.Stop()
		}
		if n.Cluster != nil {
			n.Cluster.Close()
		}
		if n.Tables != nil {
			_ = n.Tables.Close()
		}
		_ = eng.Close()
		n.clear()
		return err
	}
	cat, err := catalog.Open(ctx, eng)
	if err != nil {
		return fail(err)
	}
	n.Streams = stream.New(eng, cat, log, stream.NewMetrics(n.Registry))
	n.Streams.Limits = stream.Limits{MaxEventBytes: int(cfg.Limits.MaxEventBytes), MaxRequestBytes: int(cfg.Limits.MaxRequestBytes),
		MaxEventsPerRequest: cfg.Limits.MaxEventsPerRequest, MaxNumberLength: cfg.Limits.MaxNumberLength, MaxInvalidListed: cfg.Limits.MaxInvalidListed}
	n.Streams.ReadLimits = readLimits(cfg.Reads)
	if n.Defs, err = catalog.OpenDefinitions(ctx, eng); err != nil {
		return fail(err)
	}
	if n.Tokens, err = openAccess(ctx, n, cfg); err != nil {
		return fail(err)
	}
	if n.Tables, err = openTables(ctx, cfg); err != nil {
		return fail(err)
	}
	if n.Cluster, err = joinCluster(ctx, n, cfg, n.ln.Addr()); err != nil {
		return fail(err)
	}
	n.Functions = Functions()
	n.SourceKinds, n.OutputKinds = SourceKinds(), OutputKinds()
	n.Project = &project.Service{Defs: n.Defs, Streams: n.Streams, Builtin: n.Functions.Builtin, Sources: n.SourceKinds,
		Outputs: n.OutputKinds, FunctionConfig: n.Functions.Check}
	// The file's definitions go to the catalog as `sluice apply` puts them:
	// created or updated, the catalog's others left alone.
	plan, err := applyConfig(ctx, n.Project, declared, "sluice serve --config "+cfg.Path(), log)
	if err != nil {
		return fail(fmt.Errorf("config: %w", err))
	}
	for _, c := range plan.Changes {
		log.Info("definition applied from the config", "change", c.String())
	}
	for _, b := range plan.Behind {
		log.Warn("the config's schema is an earlier version of the stream's; the stream keeps its current schema",
			"stream", b.Stream, "config_version", b.Declared, "current_version", b.Current,
			"hint", "update the schema file to the current version (GET /v1/streams/"+b.Stream+")")
	}
	if n.Sources, err = source.NewManager(ctx, n.Streams, log, n.Registry); err != nil {
		return fail(err)
	}
	if n.Pipelines, err = pipeline.NewManager(ctx, n.Streams, log, n.Registry); err != nil {
		return fail(err)
	}
	n.Files = files.NewGroup(n.Registry)
	n.Sources.Share(n.Cluster)
	n.Pipelines.Share(n.Cluster)
	n.Files.Share(n.Cluster)
	n.runtime = newRuntime(n, cfg.Dir(), log)
	if err := n.runtime.load(ctx); err != nil {
		return fail(err)
	}
	// What the file declares must run: a bad function config, a process
	// that does not start, stops the start as it always did.
	if errs := n.runtime.errorsOf(declared); errs != nil {
		return fail(errs)
	}
	n.API = httpapi.New(n.Streams, httpapi.Options{Logger: log, Gatherer: n.Registry, Ready: n.checkReady,
		Sources: n.Sources, Functions: n.Functions, Pipelines: n.Pipelines, Tables: n.Tables, Project: n.Project, DryRun: n.DryRun, NotRunning: n.runtime.NotRunning,
		TableNames: n.runtime.tableNames, History: n.History, Files: n.Files, WriteTimeout: time.Duration(cfg.Reads.WriteTimeout),
		Cluster: n.Cluster, Tokens: n.Tokens, Auth: cfg.Auth.Enabled, Peers: n.peers})
	handler, err := httpapi.Guard(withUI(n.API), guard)
	if err != nil {
		return fail(fmt.Errorf("http: %w", err))
	}
	n.handler.set(handler)
	n.Sources.Start(context.WithoutCancel(ctx))
	n.Pipelines.Start(context.WithoutCancel(ctx))
	n.Files.Start(context.WithoutCancel(ctx))
	loopCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	n.stop = stop
	n.loops.Go(func() { n.recordHistory(loopCtx) })
	n.loops.Go(func() { n.runtime.watch(loopCtx) })
	n.readySince = time.Now()
	n.ready.Store(true)
	mode := "embedded"
	if !eng.Embedded() {
		mode = "external " + cfg.NATS.URL
	}
	log.Info("sluice serving", "addr", n.URL(), "node", n.Cluster.Node(), "engine", mode, "data", cfg.Data, "definitions_in_config", len(declared))
	close(n.up)
	return nil
}

func (n *Node) checkReady(ctx context.Context) error {
	if !n.ready.Load() {
		return httpapi.ErrStarting
	}
	if !n.settled.Load() {
		// Ready once its first claims are made: what it defines runs
		// somewhere (or it waited a lease for it).
		if !n.Cluster.Settled() && time.Since(n.readySince) < n.Cluster.TTL() {
			return fmt.Errorf("%w: taking its share of the sources and pipelines", httpapi.ErrStarting)
		}
		n.settled.Store(true)
	}
	return n.Engine.Ready(ctx)
}

// Addr is the HTTP address the node listens on.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// Done reports when the HTTP server stops by itself.
func (n *Node) Done() <-chan error { return n.done }

// Shutdown stops taking requests, lets in-flight ones finish (ending live
// subscriptions), then closes the engine, which flushes its stores.
func (n *Node) Shutdown(ctx context.Context) error {
	n.ready.Store(false)
	if n.stopLater != nil {
		n.stopLater()
		n.later.Wait()
	}
	select {
	case <-n.up:
	default: // never started: only the HTTP server runs
		return n.srv.Shutdown(ctx)
	}
	n.stop()
	n.loops.Wait()
	n.Sources.Stop() // sources and pipelines write to the engine: stop them first
	n.Pipelines.Stop()
	n.Files.Stop()
	n.Cluster.Close() // after the runs ended and gave their units back: the other nodes take them at once
	n.API.CloseSubscriptions()
	err := n.srv.Shutdown(ctx)
	n.Streams.Close()       // the subscribers' shared tails, and their consumers
	_ = n.Functions.Close() // after the pipelines and requests that use them
	if n.Tables != nil {
		if cerr := n.Tables.Close(); err == nil {
			err = cerr
		}
	}
	if cerr := n.Engine.Close(); err == nil {
		err = cerr
	}
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// withUI serves the web UI at / and /ui/ beside the API.
func withUI(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	u := ui.Handler()
	mux.Handle("GET /{$}", u)
	mux.Handle("/ui/", u)
	mux.Handle("/", api)
	return mux
}
