package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/invocation"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/source"
)

// runtime runs what the catalog defines: it watches the definitions (on
// every node sharing the engine) and puts each source, pipeline, files
// output, table and named function in place as it is created, changed or
// deleted, with no restart. A definition that cannot run yet (its
// function or table is not defined, a process does not start, an
// operation runs on the pipeline) is kept and tried again whenever
// another definition changes and every few seconds; its error is in the
// log and in Errors. A removal that could not finish is tried again the
// same way.
type runtime struct {
	n   *Node
	log *slog.Logger
	dir string // where relative paths of definitions not from a file start

	mu         sync.Mutex
	defs       map[catalog.Kind]map[string]catalog.Definition // what runs (or waits to)
	failed     map[string]error                               // "<kind>.<name>" -> why it does not run
	removing   map[string]error                               // "<kind>.<name>" -> why its removal did not finish
	applied    map[string]int                                 // pipeline -> the version running
	tableList  atomic.Pointer[[]string]                       // the defined tables, read without mu
	notRunning atomic.Pointer[map[string]string]              // failed, read without mu
}

// retryEvery is how often what failed is tried again with no other change.
const retryEvery = 5 * time.Second

func newRuntime(n *Node, dir string, log *slog.Logger) *runtime {
	rt := &runtime{n: n, log: log, dir: dir, defs: map[catalog.Kind]map[string]catalog.Definition{},
		failed: map[string]error{}, removing: map[string]error{}, applied: map[string]int{}}
	rt.tableList.Store(&[]string{})
	rt.notRunning.Store(&map[string]string{})
	for _, k := range catalog.Kinds {
		rt.defs[k] = map[string]catalog.Definition{}
	}
	return rt
}

// load puts every current definition in place, before the node starts
// its managers.
func (rt *runtime) load(ctx context.Context) error {
	for _, k := range catalog.Kinds[1:] { // streams run nothing
		defs, err := rt.n.Defs.List(ctx, k)
		if err != nil {
			return err
		}
		for _, d := range defs {
			rt.change(ctx, catalog.DefinitionChange{Kind: k, Name: d.Name, Def: &d})
		}
	}
	return nil
}

// watch follows the catalog until ctx ends. A watch that ends (the
// engine restarted, the connection was lost) is made again; its current
// values then put in place what changed meanwhile, and what was deleted
// meanwhile is removed.
func (rt *runtime) watch(ctx context.Context) {
	b := backoff.NewExponentialBackOff()
	b.MaxInterval = 10 * time.Second
	tick := time.NewTicker(retryEvery)
	defer tick.Stop()
	for ctx.Err() == nil {
		if rt.follow(ctx, tick.C) {
			b.Reset()
		}
		select {
		case <-ctx.Done():
		case <-time.After(b.NextBackOff()):
		}
	}
}

// follow runs one watch until it ends; it reports whether it caught up.
func (rt *runtime) follow(ctx context.Context, tick <-chan time.Time) bool {
	ch, err := rt.n.Defs.Watch(ctx)
	if err != nil {
		rt.log.Warn("definitions: cannot watch the catalog; trying again", "err", err)
		return false
	}
	seen := map[string]bool{}
	caught := false
	for {
		select {
		case <-tick:
			rt.mu.Lock()
			rt.retry(ctx, "")
			rt.mu.Unlock()
			continue
		case c, ok := <-ch:
			if !ok {
				if ctx.Err() == nil {
					rt.log.Warn("definitions: the catalog's watch ended; watching again")
				}
				return caught
			}
			switch {
			case c.CaughtUp:
				caught = true
				rt.reconcile(ctx, seen)
				seen = nil
			case !caught:
				seen[key(c.Kind, c.Name)] = c.Def != nil
				rt.change(ctx, c)
			default:
				rt.change(ctx, c)
			}
		}
	}
}

// reconcile removes what runs but is no longer in the catalog (deleted
// while no watch ran).
func (rt *runtime) reconcile(ctx context.Context, present map[string]bool) {
	rt.mu.Lock()
	var gone []catalog.DefinitionChange
	for _, k := range catalog.Kinds[1:] {
		for name := range rt.defs[k] {
			if !present[key(k, name)] {
				gone = append(gone, catalog.DefinitionChange{Kind: k, Name: name})
			}
		}
	}
	rt.mu.Unlock()
	for _, c := range gone {
		rt.change(ctx, c)
	}
}

// change puts one definition in place (or removes it).
func (rt *runtime) change(ctx context.Context, c catalog.DefinitionChange) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if c.Kind == catalog.Streams || rt.defs[c.Kind] == nil {
		return
	}
	if cur, ok := rt.defs[c.Kind][c.Name]; ok && c.Def != nil && cur.Version == c.Def.Version && rt.failed[key(c.Kind, c.Name)] == nil {
		return // already in place (the watch sends what load put)
	}
	if c.Def == nil {
		if _, ok := rt.defs[c.Kind][c.Name]; !ok {
			return
		}
		delete(rt.defs[c.Kind], c.Name)
		delete(rt.failed, key(c.Kind, c.Name))
		rt.storeFailed()
		rt.remove(ctx, c.Kind, c.Name)
		if c.Kind == catalog.Tables {
			rt.storeTables()
		}
	} else {
		rt.defs[c.Kind][c.Name] = *c.Def
		delete(rt.removing, key(c.Kind, c.Name)) // defined again: put in place of what did not stop
		rt.put(ctx, c.Kind, c.Name)
		if c.Kind == catalog.Tables {
			rt.storeTables()
		}
	}
	rt.setOperatorValues()
	rt.retry(ctx, key(c.Kind, c.Name))
}

func key(k catalog.Kind, name string) string { return string(k) + "." + name }

// retry tries again what failed, once something else changed (call
// with rt.mu held).
func (rt *runtime) retry(ctx context.Context, except string) {
	var gone []string
	for k := range rt.removing {
		gone = append(gone, k)
	}
	sort.Strings(gone)
	for _, k := range gone {
		for _, kind := range catalog.Kinds {
			if name, ok := strings.CutPrefix(k, string(kind)+"."); ok {
				rt.remove(ctx, kind, name)
			}
		}
	}
	var keys []string
	for k := range rt.failed {
		if k != except {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, kind := range catalog.Kinds {
			if name, ok := strings.CutPrefix(k, string(kind)+"."); ok {
				rt.put(ctx, kind, name)
			}
		}
	}
}

func (rt *runtime) fail(k catalog.Kind, name string, err error) {
	if prev := rt.failed[key(k, name)]; prev == nil || prev.Error() != err.Error() {
		rt.log.Error("definition does not run", "kind", k, "name", name, "err", err)
	}
	rt.failed[key(k, name)] = err
	rt.storeFailed()
}

func (rt *runtime) storeFailed() {
	m := make(map[string]string, len(rt.failed))
	for k, err := range rt.failed {
		m[k] = err.Error()
	}
	rt.notRunning.Store(&m)
}

// NotRunning is why a definition does not run here, if it does not.
func (rt *runtime) NotRunning(k catalog.Kind, name string) (string, bool) {
	why, ok := (*rt.notRunning.Load())[key(k, name)]
	return why, ok
}

func (rt *runtime) put(ctx context.Context, k catalog.Kind, name string) {
	d := rt.defs[k][name]
	v, err := config.Decode(k, d.Spec)
	if err == nil {
		switch k {
		case catalog.Tables:
			err = rt.putTable(ctx, name)
		case catalog.Functions:
			err = rt.putFunction(ctx, name, v.(config.Function))
		case catalog.Sources:
			err = rt.putSource(ctx, name, v.(config.Source))
		case catalog.Pipelines:
			err = rt.putPipeline(ctx, name, d, v.(config.Pipeline))
		}
	}
	if err != nil {
		rt.fail(k, name, err)
		return
	}
	if _, had := rt.failed[key(k, name)]; had {
		delete(rt.failed, key(k, name))
		rt.storeFailed()
	}
}

func (rt *runtime) remove(ctx context.Context, k catalog.Kind, name string) {
	var err error
	switch k {
	case catalog.Tables:
		rt.restartUsers(ctx, catalog.Tables, name) // they fail now: the table is not defined
	case catalog.Functions:
		old, ok := rt.n.Functions.Undeclare(name)
		rt.restartUsers(ctx, catalog.Functions, name)
		if ok {
			closeNamed(old)
		}
	case catalog.Sources:
		err = rt.n.Sources.Remove(ctx, name)
	case catalog.Pipelines:
		delete(rt.applied, name)
		err = errors.Join(rt.n.Pipelines.Remove(ctx, name), rt.n.Files.RemovePipeline(ctx, name))
	}
	switch {
	case errors.Is(err, pipeline.ErrBusy):
		if rt.removing[key(k, name)] == nil {
			rt.log.Warn("definition deleted; its pipeline stops once its operation ends", "name", name, "err", err)
		}
		rt.removing[key(k, name)] = err
	case err != nil && !errors.Is(err, pipeline.ErrNotFound) && !errors.Is(err, source.ErrNotFound):
		rt.log.Warn("definition removed, its component did not stop cleanly", "kind", k, "name", name, "err", err)
		delete(rt.removing, key(k, name))
	default:
		rt.log.Info("definition removed", "kind", k, "name", name)
		delete(rt.removing, key(k, name))
	}
}

func closeNamed(n function.Named) {
	if c, ok := n.Function.(interface{ Close() error }); ok {
		_ = c.Close()
	}
}

// restartUsers puts again the pipelines that use a table or a function.
func (rt *runtime) restartUsers(ctx context.Context, k catalog.Kind, name string) {
	for _, pname := range sortedKeys(rt.defs[catalog.Pipelines]) {
		v, err := config.Decode(catalog.Pipelines, rt.defs[catalog.Pipelines][pname].Spec)
		if err != nil {
			continue
		}
		pl := v.(config.Pipeline)
		uses := k == catalog.Functions && pl.Function.Name == name
		for _, o := range pl.To {
			uses = uses || (k == catalog.Tables && o.Table() == name)
		}
		if uses {
			rt.put(ctx, catalog.Pipelines, pname)
		}
	}
}

func (rt *runtime) putTable(ctx context.Context, name string) error {
	if rt.n.Tables == nil {
		return errors.New("the node has no table store")
	}
	if err := rt.n.Tables.Create(ctx, name); err != nil {
		return err
	}
	rt.restartUsers(ctx, catalog.Tables, name)
	return nil
}

func (rt *runtime) putFunction(ctx context.Context, name string, f config.Function) error {
	old, had := rt.n.Functions.Undeclare(name)
	d := invocation.Declaration{Name: name, Kinds: f.Kinds, Kind: f.Kind, Config: f.Config,
		MaxBatch: f.MaxBatch, Payload: f.Payload, Doc: f.Doc}
	if err := invocation.Declare(rt.n.Functions, FunctionKinds(), d, invocation.Env{Dir: rt.dir, Log: rt.log}); err != nil {
		if had { // the old one keeps running until the new one can
			_ = rt.n.Functions.Declare(old)
		}
		return err
	}
	rt.restartUsers(ctx, catalog.Functions, name)
	if had {
		closeNamed(old)
	}
	rt.log.Info("function in place", "function", name)
	return nil
}

func (rt *runtime) putSource(ctx context.Context, name string, s config.Source) error {
	spec, err := rt.n.SourceKinds.Spec(name, s, source.Env{Dir: rt.dir, Log: rt.log})
	if err != nil {
		return err
	}
	if err := rt.n.Sources.Put(ctx, spec); err != nil {
		return err
	}
	rt.log.Info("source in place", "source", name, "to", s.To)
	return nil
}

// tables are the definitions of the tables a pipeline writes; call with
// rt.mu held.
func (rt *runtime) tables(pl config.Pipeline) (map[string]config.Table, error) {
	tables := map[string]config.Table{}
	for _, o := range pl.To {
		t := o.Table()
		if t == "" {
			continue
		}
		td, ok := rt.defs[catalog.Tables][t]
		if !ok {
			return nil, fmt.Errorf("table %q is not defined", t)
		}
		v, err := config.Decode(catalog.Tables, td.Spec)
		if err != nil {
			return nil, fmt.Errorf("table %q: %w", t, err)
		}
		tables[t] = v.(config.Table)
	}
	return tables, nil
}

// tablesOf is tables for a caller outside the runtime (a dry run).
func (rt *runtime) tablesOf(pl config.Pipeline) (map[string]config.Table, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.tables(pl)
}

func (rt *runtime) putPipeline(ctx context.Context, name string, d catalog.Definition, pl config.Pipeline) error {
	tables, err := rt.tables(pl)
	if err != nil {
		return err
	}
	spec, err := pipelineSpec(name, pl, tables, rt.n.Functions, rt.n.OutputKinds, rt.n.Streams, rt.n.Tables, rt.n.dataDir)
	if err != nil {
		return err
	}
	var opt pipeline.PutOptions
	if prev, running := rt.applied[name]; running && prev < d.Version && d.Reset != "" {
		pos, err := event.ParsePosition(d.Reset)
		if err == nil {
			opt.Reset, opt.ResetID = &pos, fmt.Sprintf("v%d", d.Version)
		}
	}
	if err := rt.n.Pipelines.Put(ctx, spec, opt); err != nil {
		closeSpec(spec)
		return err
	}
	rt.applied[name] = d.Version
	sinks, err := fileSinksOf(ctx, name, pl, rt.n.Streams, rt.n.dataDir, rt.log)
	if err != nil {
		return err
	}
	var keep []string
	for _, s := range sinks {
		if err := rt.n.Files.Put(ctx, s); err != nil {
			return err
		}
		keep = append(keep, s.Name())
	}
	for _, old := range rt.n.Files.Names(name) {
		if !slices.Contains(keep, old) {
			_ = rt.n.Files.Remove(ctx, old)
		}
	}
	rt.log.Info("pipeline in place", "pipeline", name, "version", d.Version, "reset", d.Reset != "" && opt.Reset != nil)
	return nil
}

// setOperatorValues gives the built-in kinds the network targets their
// definitions set (see function.Registry.SetOperatorValues).
func (rt *runtime) setOperatorValues() {
	uses := map[string]function.Use{}
	for name, d := range rt.defs[catalog.Pipelines] {
		if v, err := config.Decode(catalog.Pipelines, d.Spec); err == nil {
			pl := v.(config.Pipeline)
			uses["pipelines."+name] = function.Use{Function: pl.Function.Name, Config: pl.Function.Config}
		}
	}
	for name, d := range rt.defs[catalog.Functions] {
		if v, err := config.Decode(catalog.Functions, d.Spec); err == nil {
			if f := v.(config.Function); f.Kind != "" {
				uses["functions."+name] = function.Use{Function: f.Kind, Config: f.Config}
			}
		}
	}
	rt.n.Functions.SetOperatorValues(uses)
}

// tableNames lists the defined tables; it does not wait for a change in
// progress (the HTTP API asks it on every table request).
func (rt *runtime) tableNames() []string { return *rt.tableList.Load() }

func (rt *runtime) storeTables() {
	names := sortedKeys(rt.defs[catalog.Tables])
	rt.tableList.Store(&names)
}

// errorsOf is why the given definitions do not run, if any does not.
func (rt *runtime) errorsOf(defs []catalog.Definition) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var errs []error
	for _, d := range defs {
		if err := rt.failed[key(d.Kind, d.Name)]; err != nil {
			errs = append(errs, fmt.Errorf("%s.%s.%w", d.Kind, d.Name, err))
		}
	}
	return errors.Join(errs...)
}
