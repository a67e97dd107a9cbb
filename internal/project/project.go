// Package project manages definitions as a team keeps them in a repo: a
// project (sluice.yaml, its schemas and function code) is a set of
// definitions; Plan compares it with the catalog, Apply carries the plan
// out, and Put and Delete change one definition. Every change of the
// self-service API, of `sluice apply` and of `sluice serve --config`
// goes through here, so they follow the same rules (docs/SELF-SERVICE.md):
//
//   - what the project declares is created or updated; what it does not
//     declare is left alone, unless pruned;
//   - a stream whose schema equals an earlier version of its schema is
//     not a change; a schema that breaks consumers needs force;
//   - a pipeline's input stream (from) changes only with a reset position;
//   - a stream, table or function that others use is deleted only with
//     force, and the refusal names the users.
//
// Nodes watch the catalog and run what it holds (package node); this
// package only writes definitions.
package project

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/field"
	"github.com/sluice-dev/sluice/internal/files"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/source"
	"github.com/sluice-dev/sluice/internal/stream"
)

// Errors matched with errors.Is.
var (
	ErrInUse       = errors.New("in use")
	ErrFromChanged = errors.New("a pipeline's input stream changes only with a reset position")
	ErrInvalid     = errors.New("invalid definition")
)

// Invalid lists the problems of the definitions of a request, each path
// beginning with its definition ("pipelines.p.to[1].table").
type Invalid struct {
	Errors config.FieldErrors
}

func (e *Invalid) Error() string { return ErrInvalid.Error() + ": " + e.Errors.Error() }
func (e *Invalid) Unwrap() error { return ErrInvalid }

// InUse refuses the deletion of a definition others use.
type InUse struct {
	Kind  catalog.Kind
	Name  string
	Users []string // "pipelines.p (from)"
}

func (e *InUse) Error() string {
	return fmt.Sprintf("%s %q is used by %s: change or delete them first, or delete with force", e.Kind.Singular(), e.Name, strings.Join(e.Users, ", "))
}
func (e *InUse) Unwrap() error { return ErrInUse }

// Service reads and writes definitions.
type Service struct {
	Defs    *catalog.Definitions
	Streams *stream.Service
	// Builtin says whether a function name is a built-in kind (jq, ...).
	Builtin func(name string) bool
	// Sources are the kinds of sources the nodes know; nil: a source's
	// kind and settings are not checked.
	Sources *source.Registry
	// Outputs are the kinds of outputs; nil: a pipeline is not checked.
	Outputs *pipeline.Outputs
	// FunctionConfig checks a built-in kind's config (errors name the
	// field); nil: not checked.
	FunctionConfig func(kind string, config map[string]any) error
}

// Get returns one definition; a stream's comes from the stream catalog,
// its schema inline.
func (s *Service) Get(ctx context.Context, k catalog.Kind, name string) (catalog.Definition, error) {
	if k != catalog.Streams {
		d, _, err := s.Defs.Get(ctx, k, name)
		return d, err
	}
	def, err := s.Streams.Get(ctx, name)
	if errors.Is(err, catalog.ErrNotFound) {
		return catalog.Definition{}, fmt.Errorf("%w: stream %q", catalog.ErrNoDefinition, name)
	}
	if err != nil {
		return catalog.Definition{}, err
	}
	v, err := s.Streams.Versions(ctx, name)
	if err != nil {
		return catalog.Definition{}, err
	}
	var sch schema.Bundle
	for _, x := range v {
		if x.Version == def.Version {
			sch = x.Schema
		}
	}
	spec, err := StreamSpec(def, sch)
	if err != nil {
		return catalog.Definition{}, err
	}
	return catalog.Definition{Kind: catalog.Streams, Name: name, Spec: spec, Version: def.Version, Created: def.Created, Updated: def.Updated}, nil
}

// List returns every definition of a kind, by name; for streams, the
// dead-letter streams sluice makes (<stream>.dlq, <pipeline>.errors) are
// left out unless declared.
func (s *Service) List(ctx context.Context, k catalog.Kind) ([]catalog.Definition, error) {
	if k != catalog.Streams {
		return s.Defs.List(ctx, k)
	}
	all, err := s.Streams.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []catalog.Definition
	for _, st := range all {
		if managed(st.Name) {
			continue
		}
		d, err := s.Get(ctx, catalog.Streams, st.Name)
		if errors.Is(err, catalog.ErrNoDefinition) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// managed reports a stream sluice makes by itself: a source's dead
// letters (<stream>.dlq), a pipeline's (<pipeline>.errors), its own
// (sluice.audit).
func managed(name string) bool {
	return strings.HasSuffix(name, ".dlq") || strings.HasSuffix(name, ".errors") || audit.Reserved(name)
}

// History returns a definition's changes, oldest first.
func (s *Service) History(ctx context.Context, k catalog.Kind, name string) ([]catalog.Change, error) {
	return s.Defs.History(ctx, k, name)
}

// StreamSpec is a stream's definition as a spec: its settings (defaults
// filled in) and its schema inline.
func StreamSpec(def catalog.Stream, sch schema.Bundle) (json.RawMessage, error) {
	st := config.Stream{ID: def.ID, Time: def.Time, Key: def.Key, Preview: def.Preview,
		Retention:       config.Retention{MaxAge: config.Duration(def.Retention.MaxAge), MaxBytes: config.Size(def.Retention.MaxBytes)},
		DuplicateWindow: config.Duration(def.DuplicateWindow), Replicas: def.Replicas}
	if len(sch.Resources) == 1 {
		var doc any
		if err := json.Unmarshal(sch.Resources[sch.Root], &doc); err != nil {
			return nil, err
		}
		st.Schema.Doc = doc
	} else if len(sch.Resources) > 1 {
		st.SchemaBundle = &config.BundleRef{Bundle: sch}
	}
	return config.Spec(st)
}

// PutOptions are the choices of one change.
type PutOptions struct {
	// Create refuses a definition that exists (catalog.ErrDefinitionExists).
	Create bool
	// Force replaces a stream's schema even if it breaks consumers.
	Force bool
	// Reset is where a pipeline whose input stream changes starts (see
	// ErrFromChanged); empty: from may not change.
	Reset string
	// By says who made the change (shown in the history).
	By string
}

// Put creates or changes one definition; the spec is checked first, its
// problems a *Invalid. The Change answered is the zero Change when the
// spec equals the current one.
func (s *Service) Put(ctx context.Context, k catalog.Kind, name string, spec []byte, opt PutOptions) (catalog.Definition, catalog.Change, error) {
	canon, err := catalog.Canonical(spec)
	if err != nil {
		return catalog.Definition{}, catalog.Change{}, &Invalid{Errors: config.FieldErrors{{Message: "not a JSON object: " + err.Error()}}}
	}
	v, err := s.check(ctx, k, name, canon, nil)
	if err != nil {
		return catalog.Definition{}, catalog.Change{}, err
	}
	if k == catalog.Streams {
		return s.putStream(ctx, name, v.(config.Stream), opt)
	}
	canon, err = config.Spec(v) // as the decoder reads it: "30s" and "30s" alike
	if err != nil {
		return catalog.Definition{}, catalog.Change{}, err
	}
	cur, rev, err := s.Defs.Get(ctx, k, name)
	exists := err == nil
	if err != nil && !errors.Is(err, catalog.ErrNoDefinition) {
		return catalog.Definition{}, catalog.Change{}, err
	}
	if opt.Create && exists {
		return catalog.Definition{}, catalog.Change{}, fmt.Errorf("%w: %s %q", catalog.ErrDefinitionExists, k.Singular(), name)
	}
	if k == catalog.Pipelines && exists {
		if err := checkFrom(cur.Spec, canon, opt.Reset); err != nil {
			return catalog.Definition{}, catalog.Change{}, err
		}
	}
	if opt.Reset != "" {
		if k != catalog.Pipelines {
			return catalog.Definition{}, catalog.Change{}, &Invalid{Errors: config.FieldErrors{{Path: "reset", Message: "only for pipelines"}}}
		}
		if _, err := event.ParsePosition(opt.Reset); err != nil {
			return catalog.Definition{}, catalog.Change{}, &Invalid{Errors: config.FieldErrors{{Path: "reset", Message: err.Error()}}}
		}
	}
	if !exists {
		rev = 0
	}
	return s.Defs.Put(ctx, k, name, canon, catalog.Write{By: opt.By, Create: opt.Create, IfRevision: rev, Reset: opt.Reset})
}

// checkFrom refuses a change of a pipeline's input stream without a reset.
func checkFrom(old, spec []byte, reset string) error {
	var a, b struct {
		From string `json:"from"`
	}
	_ = json.Unmarshal(old, &a)
	_ = json.Unmarshal(spec, &b)
	if a.From != b.From && reset == "" {
		return fmt.Errorf("%w: from %q to %q: give reset (earliest, latest, a sequence or a time) to start the new stream there", ErrFromChanged, a.From, b.From)
	}
	return nil
}

func (s *Service) putStream(ctx context.Context, name string, st config.Stream, opt PutOptions) (catalog.Definition, catalog.Change, error) {
	before, err := s.Get(ctx, catalog.Streams, name)
	exists := err == nil
	if err != nil && !errors.Is(err, catalog.ErrNoDefinition) {
		return catalog.Definition{}, catalog.Change{}, err
	}
	if opt.Create && exists {
		return catalog.Definition{}, catalog.Change{}, fmt.Errorf("%w: stream %q", catalog.ErrDefinitionExists, name)
	}
	d, err := st.Declared(name, "")
	if err != nil {
		return catalog.Definition{}, catalog.Change{}, &Invalid{Errors: config.FieldErrors{{Path: "schema", Message: err.Error()}}}
	}
	a, err := s.Streams.ApplyForced(ctx, d.Def, d.Schema, opt.Force)
	if err != nil {
		return catalog.Definition{}, catalog.Change{}, err
	}
	after, err := s.Get(ctx, catalog.Streams, name)
	if err != nil {
		return catalog.Definition{}, catalog.Change{}, err
	}
	if !a.Created && !a.SchemaChanged && !a.SettingsChanged {
		return after, catalog.Change{}, nil
	}
	ch := catalog.Change{Op: catalog.OpUpdate, At: after.Updated, By: opt.By, Spec: after.Spec}
	if a.Created {
		ch.Op = catalog.OpCreate
	} else {
		ch.Fields = catalog.DiffFields(before.Spec, after.Spec)
	}
	if err := s.Defs.Record(ctx, catalog.Streams, name, ch); err != nil {
		return after, ch, err
	}
	return after, ch, nil
}

// Delete removes a definition. A stream, table or function in use by
// other definitions is refused with *InUse unless force is set. Deleting
// a stream deletes its events.
func (s *Service) Delete(ctx context.Context, k catalog.Kind, name string, force bool, by string) error {
	cur, err := s.Get(ctx, k, name)
	if err != nil {
		return err
	}
	if !force {
		users, err := s.users(ctx, k, name, nil)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return &InUse{Kind: k, Name: name, Users: users}
		}
	}
	if k != catalog.Streams {
		return s.Defs.Delete(ctx, k, name, by)
	}
	if err := s.Streams.Delete(ctx, name); err != nil {
		return err
	}
	return s.Defs.Record(ctx, catalog.Streams, name, catalog.Change{Op: catalog.OpDelete, At: cur.Updated, By: by, Spec: cur.Spec})
}

// users lists the definitions that use k/name ("pipelines.p (from)"),
// leaving out those in skip (being deleted with it).
func (s *Service) users(ctx context.Context, k catalog.Kind, name string, skip map[string]bool) ([]string, error) {
	var out []string
	if k == catalog.Streams {
		srcs, err := s.Defs.List(ctx, catalog.Sources)
		if err != nil {
			return nil, err
		}
		for _, d := range srcs {
			var sp struct {
				To string `json:"to"`
			}
			if json.Unmarshal(d.Spec, &sp) == nil && sp.To == name && !skip["sources."+d.Name] {
				out = append(out, "sources."+d.Name+" (to)")
			}
		}
	}
	pls, err := s.Defs.List(ctx, catalog.Pipelines)
	if err != nil {
		return nil, err
	}
	for _, d := range pls {
		if skip["pipelines."+d.Name] {
			continue
		}
		for _, field := range pipelineUses(d.Spec, k, name) {
			out = append(out, "pipelines."+d.Name+" ("+field+")")
		}
	}
	return out, nil
}

// pipelineUses lists the fields of a pipeline's spec that name k/name.
func pipelineUses(spec []byte, k catalog.Kind, name string) []string {
	var p config.Pipeline
	v, err := config.Decode(catalog.Pipelines, spec)
	if err != nil {
		return nil
	}
	p = v.(config.Pipeline)
	var out []string
	switch k {
	case catalog.Streams:
		if p.From == name {
			out = append(out, "from")
		}
		for i, o := range p.To {
			if o.Stream() == name {
				out = append(out, fmt.Sprintf("to[%d].stream", i))
			}
		}
	case catalog.Tables:
		for i, o := range p.To {
			if o.Table() == name {
				out = append(out, fmt.Sprintf("to[%d].table", i))
			}
		}
	case catalog.Functions:
		if p.Function.Name == name {
			out = append(out, "function.name")
		}
	}
	return out
}

// Check decodes and checks a spec as Put would (references against the
// catalog), without writing it: its problems are a *Invalid.
func (s *Service) Check(ctx context.Context, k catalog.Kind, name string, spec []byte) (any, error) {
	canon, err := catalog.Canonical(spec)
	if err != nil {
		return nil, &Invalid{Errors: config.FieldErrors{{Message: "not a JSON object: " + err.Error()}}}
	}
	return s.check(ctx, k, name, canon, nil)
}

// check decodes and checks a spec; references to tables and functions
// must exist in the catalog or among extra (a project being applied).
// MaxSpecBytes bounds the spec of a definition other than a stream's (a
// stream's holds its schema, bounded by the request): specs are read as
// YAML, whose cost grows faster than their size.
const MaxSpecBytes = 256 << 10

func (s *Service) check(ctx context.Context, k catalog.Kind, name string, spec []byte, extra map[string]bool) (any, error) {
	if k != catalog.Streams && len(spec) > MaxSpecBytes {
		return nil, &Invalid{Errors: field.Errors{{Message: fmt.Sprintf("the spec is %d bytes, over the limit of %d (a stream's schema excepted)", len(spec), MaxSpecBytes)}}}
	}
	known := func(kind catalog.Kind, n string) bool {
		if extra[string(kind)+"."+n] {
			return true
		}
		if kind == catalog.Streams {
			_, err := s.Streams.Get(ctx, n)
			return err == nil
		}
		_, _, err := s.Defs.Get(ctx, kind, n)
		return err == nil
	}
	v, err := config.Decode(k, spec)
	if err != nil {
		return nil, &Invalid{Errors: field.Errors{{Message: err.Error()}}}
	}
	var errs field.Errors
	stream := func(path, n string) {
		if n != "" && !known(catalog.Streams, n) {
			errs.Add(path, "unknown stream %q (create it first, or declare it in the same project)", n)
		}
	}
	switch x := v.(type) {
	case config.Stream:
		errs = x.Check(name)
	case config.Source:
		if s.Sources != nil {
			errs = s.Sources.Check(name, x)
		}
		if len(errs) == 0 {
			stream("to", x.To)
		}
	case config.Table:
		errs = x.Check(name)
	case config.Pipeline:
		if s.Outputs != nil {
			errs = s.Outputs.Check(name, x, pipeline.CheckEnv{HasTable: func(t string) bool { return known(catalog.Tables, t) }})
		}
		if len(errs) == 0 {
			stream("from", x.From)
			for i, o := range x.To {
				stream(fmt.Sprintf("to[%d].stream", i), o.Stream())
			}
			s.checkFunction(x, known, &errs)
		}
		if len(errs) == 0 {
			if err := s.checkFilesPlaces(ctx, name, x, extra); err != nil {
				return nil, err
			}
		}
	case config.Function:
		if !pipeline.ValidName(name) {
			errs.Add("name", "function names are [a-z0-9][a-z0-9_-]{0,63}")
		}
	}
	if len(errs) > 0 {
		return nil, &Invalid{Errors: errs}
	}
	return v, nil
}

// checkFunction checks a pipeline's function: a built-in kind with a
// config its kind takes, or a named function (defined here or in the
// project) with none.
func (s *Service) checkFunction(p config.Pipeline, known func(catalog.Kind, string) bool, errs *field.Errors) {
	name := p.Function.Name
	builtin := s.Builtin != nil && s.Builtin(name)
	switch {
	case builtin && s.FunctionConfig != nil:
		if err := s.FunctionConfig(name, p.Function.Config); err != nil {
			errs.Add("function.config", "%v", err)
		}
	case builtin:
	case known(catalog.Functions, name):
		if len(p.Function.Config) > 0 {
			errs.Add("function.config", "%q is a named function: its config is its definition's (functions.%s.config); give none here", name, name)
		}
	default:
		errs.Add("function.name", "unknown function %q: neither a built-in kind nor a named function (functions:)", name)
	}
}

// checkFilesPlaces refuses a files output that writes where another
// pipeline's does: objects are named by sequence ranges, so one would take
// the other's objects for its own. (Pipelines of a project being applied
// are checked among themselves by config.Validate.)
func (s *Service) checkFilesPlaces(ctx context.Context, name string, p config.Pipeline, extra map[string]bool) error {
	mine := map[string]int{}
	for i, place := range filesPlaces(p) {
		if place != "" {
			mine[place] = i
		}
	}
	if len(mine) == 0 {
		return nil
	}
	others, err := s.Defs.List(ctx, catalog.Pipelines)
	if err != nil {
		return err
	}
	for _, d := range others {
		if d.Name == name || extra["pipelines."+d.Name] {
			continue // itself, or replaced by the project being applied
		}
		v, err := config.Decode(catalog.Pipelines, d.Spec)
		if err != nil {
			continue
		}
		for j, place := range filesPlaces(v.(config.Pipeline)) {
			if i, dup := mine[place]; dup && place != "" {
				return &Invalid{Errors: config.FieldErrors{{Path: fmt.Sprintf("to[%d].files.url", i),
					Message: fmt.Sprintf("pipelines.%s.to[%d].files writes the same place: each files output needs its own folder, bucket or prefix", d.Name, j)}}}
			}
		}
	}
	return nil
}

// filesPlaces is where each output of a pipeline writes files, by index
// ("" for other kinds and invalid URLs).
func filesPlaces(p config.Pipeline) map[int]string {
	out := map[int]string{}
	for i, o := range p.To {
		if kind, settings := o.Kind(); kind == files.Kind.Name {
			if f, err := files.Decode(settings); err == nil {
				out[i] = f.Place()
			}
		}
	}
	return out
}
