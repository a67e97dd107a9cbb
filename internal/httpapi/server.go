// Package httpapi is sluice's HTTP API (v1): streams, produce, read and
// subscribe (NDJSON and Server-Sent Events), health and metrics. Handlers
// return errors; one adapter turns them into RFC 9457 problem documents.
// The OpenAPI document is generated from the same route table that builds
// the mux, so the two cannot drift. Guard wraps the node's handler in the
// checks every request passes first: a body deadline, the Host allow-list,
// CORS and cross-origin protection (docs/HTTP.md).
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/files"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/history"
	"github.com/sluice-dev/sluice/internal/lease"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/source"
	"github.com/sluice-dev/sluice/internal/stream"
	"github.com/sluice-dev/sluice/internal/table"
	"github.com/sluice-dev/sluice/internal/token"
)

// Options configure the API.
type Options struct {
	Logger *slog.Logger
	// Gatherer serves /metrics; nil serves an empty registry.
	Gatherer prometheus.Gatherer
	// Ready reports whether the node can serve (engine reachable, catalog loaded).
	Ready func(ctx context.Context) error
	// KeepAlive is the interval of SSE comment lines on idle subscriptions (default 15 s).
	KeepAlive time.Duration
	// WriteTimeout bounds each write to an SSE subscriber (default 30 s):
	// one that does not take its events meanwhile is dropped.
	WriteTimeout time.Duration
	// Sources runs the node's sources; nil: none.
	Sources *source.Manager
	// Functions are the function kinds that can be invoked; nil: none.
	Functions *function.Registry
	// Pipelines runs the node's pipelines; nil: none.
	Pipelines *pipeline.Manager
	// Tables is the temporal table store; nil: none.
	Tables table.Store
	// TableNames lists the defined tables (they change while the node runs).
	TableNames func() []string
	// History has the recent lag and rate of sources ("source/<name>") and
	// pipelines ("pipeline/<name>"); nil: none.
	History *history.Recorder
	// Files are the files outputs, shown with their pipelines; nil: none.
	Files *files.Group
	// Project creates, changes and deletes definitions; nil: the
	// self-service routes answer 404.
	Project *project.Service
	// NotRunning says why a defined source or pipeline does not run on
	// this node (its function's process does not start, ...); nil: never.
	NotRunning func(k catalog.Kind, name string) (string, bool)
	// DryRun runs an unsaved pipeline spec on the last events of its
	// input stream (the node's DryRun); nil: the route answers 404.
	DryRun func(ctx context.Context, name string, spec []byte, last int) (DryRun, error)
	// Cluster is the node's part among the nodes sharing its engine: a
	// request about a source or pipeline that runs on another node is
	// passed to it, lists ask the others, GET /v1/cluster shows them; nil:
	// the node runs everything itself.
	Cluster *lease.Cluster
	// Tokens are the tokens of the node's catalog (the /v1/tokens routes);
	// nil: none. Auth makes every request but the open ones present one
	// (docs/ACCESS.md).
	Tokens *token.Store
	Auth   bool
	// Peers is how to reach the other nodes of Cluster; the zero value is
	// plain HTTP over http.DefaultTransport.
	Peers Peers
}

// API serves the HTTP API.
type API struct {
	svc    *stream.Service
	log    *slog.Logger
	opts   Options
	routes []route
	mux    *http.ServeMux

	closing context.Context // ends every subscription when cancelled
	close   context.CancelFunc
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// New builds the API on a stream service.
func New(svc *stream.Service, opts Options) *API {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = 15 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 30 * time.Second
	}
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.NewRegistry()
	}
	if opts.Auth && opts.Tokens == nil {
		panic("httpapi: Options.Auth needs Options.Tokens") // refusing everything would hide the mistake; allowing it, worse
	}
	if opts.Ready == nil {
		opts.Ready = func(context.Context) error { return nil }
	}
	if opts.Project == nil { // streams are always managed: by the catalog of their engine
		if defs, err := catalog.OpenDefinitions(context.Background(), svc.Engine()); err == nil {
			opts.Project = &project.Service{Defs: defs, Streams: svc}
		}
	}
	a := &API{svc: svc, log: opts.Logger, opts: opts, mux: http.NewServeMux()}
	a.closing, a.close = context.WithCancel(context.Background())
	a.routes = standard(append(append(a.table(), a.definitionRoutes()...), a.tokenRoutes()...))
	for _, rt := range a.routes {
		h := a.adapt(rt.h)
		if unit, ok := runBound[rt.id]; ok {
			h = a.toOwner(unit, h)
		}
		a.mux.Handle(rt.method+" "+rt.path, a.guarded(rt, ruleOf(rt), h))
	}
	a.mux.Handle("GET /metrics", a.metrics(promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{})))
	return a
}

// runBound are the routes only the node running their source or pipeline
// serves (its live status, its controls, its operations), by route id:
// the unit the request is about.
var runBound = map[string]func(a *API, r *http.Request) string{
	"getSource": sourceUnit, "pauseSource": sourceUnit, "resumeSource": sourceUnit,
	"getPipeline": pipelineUnit, "pausePipeline": pipelineUnit, "resumePipeline": pipelineUnit,
	"resetPipeline": pipelineUnit, "redrivePipeline": pipelineUnit,
	"getOperation": operationUnit, "cancelOperation": operationUnit,
	"rebuildTable": (*API).tableWriterUnit,
}

func sourceUnit(_ *API, r *http.Request) string   { return source.Unit(r.PathValue("name")) }
func pipelineUnit(_ *API, r *http.Request) string { return pipeline.Unit(r.PathValue("name")) }
func operationUnit(_ *API, r *http.Request) string {
	return pipeline.Unit(pipeline.OperationPipeline(r.PathValue("id")))
}

// tableWriterUnit is the pipeline that writes a table: a rebuild holds it
// back while it runs, so it runs where that pipeline runs.
func (a *API) tableWriterUnit(r *http.Request) string {
	if a.opts.Pipelines == nil {
		return ""
	}
	for _, p := range a.opts.Pipelines.List() {
		for _, to := range p.To {
			if to == "table:"+r.PathValue("name") {
				return pipeline.Unit(p.Name)
			}
		}
	}
	return ""
}

// toOwner passes a run-bound request to the node that runs its unit.
func (a *API) toOwner(unit func(a *API, r *http.Request) string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := unit(a, r); u != "" {
			if a.opts.Cluster != nil {
				a.opts.Cluster.Await(r.Context(), u) // a unit that runs nowhere yet: a moment for a node to take it
			}
			if a.forward(w, r, u) {
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// CloseSubscriptions ends every SSE subscription, so a graceful shutdown
// does not wait for clients that never leave.
func (a *API) CloseSubscriptions() { a.close() }

// Handle adds a handler beside the API (the web UI mounts itself with it).
func (a *API) Handle(pattern string, h http.Handler) { a.mux.Handle(pattern, h) }

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

func (a *API) adapt(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeProblem(w, r, a.log, err)
		}
	})
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) error {
	if err := a.opts.Ready(r.Context()); err != nil {
		return notReady(err)
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// past is a series of the node's history, or nil.
func (a *API) past(name string) []history.Point {
	if a.opts.History == nil {
		return nil
	}
	return a.opts.History.Get(name)
}
