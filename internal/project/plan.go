package project

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/field"
	"github.com/sluice-dev/sluice/internal/schema"
)

// Change is one line of a plan.
type Change struct {
	Op     string       `json:"op"` // + create, ~ update, - delete
	Kind   catalog.Kind `json:"kind"`
	Name   string       `json:"name"`
	Fields []string     `json:"fields,omitempty"` // for an update
	// Note says more: a breaking schema change, a stream kept.
	Note string `json:"note,omitempty"`

	spec   []byte
	behind Behind
}

// Plan operations.
const (
	Create = "+"
	Update = "~"
	Delete = "-"
)

func (c Change) String() string {
	s := c.Op + " " + string(c.Kind) + "." + c.Name
	if len(c.Fields) > 0 {
		s += " (" + strings.Join(c.Fields, ", ") + ")"
	}
	if c.Note != "" {
		s += ": " + c.Note
	}
	return s
}

// Plan is what applying a project would change.
type Plan struct {
	Changes []Change `json:"changes"`
	Applied bool     `json:"applied"`
	// Behind lists the streams whose declared schema is an earlier version
	// of theirs: not a change, the stream keeps its current schema.
	Behind []Behind `json:"behind,omitempty"`
}

// Behind is a stream declared with an earlier version of its schema.
type Behind struct {
	Stream   string `json:"stream"`
	Declared int    `json:"declared_version"`
	Current  int    `json:"current_version"`
}

func (p Plan) String() string {
	if len(p.Changes) == 0 {
		return "no changes\n"
	}
	var b strings.Builder
	for _, c := range p.Changes {
		b.WriteString(c.String() + "\n")
	}
	return b.String()
}

// ApplyOptions are the choices of an apply.
type ApplyOptions struct {
	DryRun bool
	// Prune deletes what the project does not declare; streams only with
	// Force as well (they hold events), sluice's own dead-letter streams
	// never.
	Prune bool
	// Force replaces schemas that break consumers, and deletes pruned streams.
	Force bool
	// Resets gives pipelines whose input stream changes their start
	// (name -> position).
	Resets map[string]string
	By     string
}

// Plan compares a project with the catalog: every definition is checked
// first (its problems listed with their paths, all at once).
func (s *Service) Plan(ctx context.Context, defs []catalog.Definition, opt ApplyOptions) (Plan, error) {
	declared := map[string]bool{}
	var errs config.FieldErrors
	for _, d := range defs {
		key := string(d.Kind) + "." + d.Name
		if declared[key] {
			errs = append(errs, config.FieldError{Path: key, Message: "declared twice"})
		}
		declared[key] = true
	}
	var plan Plan
	for _, d := range sorted(defs) {
		c, err := s.planOne(ctx, d, declared, opt)
		var inv *Invalid
		switch {
		case errors.As(err, &inv):
			for _, fe := range inv.Errors {
				fe.Path = strings.TrimSuffix(string(d.Kind)+"."+d.Name+"."+fe.Path, ".")
				errs = append(errs, fe)
			}
			continue
		case err != nil:
			return Plan{}, fmt.Errorf("%s.%s: %w", d.Kind, d.Name, err)
		}
		if c.Op != "" {
			plan.Changes = append(plan.Changes, c)
		}
		if c.behind.Stream != "" {
			plan.Behind = append(plan.Behind, c.behind)
		}
	}
	errs = append(errs, SamePlaces(declaredPipelines(defs))...)
	if len(errs) > 0 {
		return Plan{}, &Invalid{Errors: errs}
	}
	if opt.Prune {
		var gone []Change
		for i := len(catalog.Kinds) - 1; i >= 0; i-- {
			k := catalog.Kinds[i]
			cur, err := s.List(ctx, k)
			if err != nil {
				return Plan{}, err
			}
			for _, d := range cur {
				if declared[string(k)+"."+d.Name] {
					continue
				}
				c := Change{Op: Delete, Kind: k, Name: d.Name}
				if k == catalog.Streams && !opt.Force {
					c.Note = "holds events: deleted only with force"
				}
				gone = append(gone, c)
			}
		}
		plan.Changes = append(plan.Changes, gone...)
	}
	return plan, nil
}

// sorted orders definitions by kind (catalog.Kinds) then name.
func sorted(defs []catalog.Definition) []catalog.Definition {
	rank := map[catalog.Kind]int{}
	for i, k := range catalog.Kinds {
		rank[k] = i
	}
	out := append([]catalog.Definition(nil), defs...)
	sort.SliceStable(out, func(i, j int) bool {
		if rank[out[i].Kind] != rank[out[j].Kind] {
			return rank[out[i].Kind] < rank[out[j].Kind]
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func (s *Service) planOne(ctx context.Context, d catalog.Definition, declared map[string]bool, opt ApplyOptions) (Change, error) {
	if _, err := catalog.ParseKind(string(d.Kind)); err != nil {
		return Change{}, &Invalid{Errors: config.FieldErrors{{Message: err.Error()}}}
	}
	v, err := s.check(ctx, d.Kind, d.Name, d.Spec, declared)
	if err != nil {
		return Change{}, err
	}
	c := Change{Kind: d.Kind, Name: d.Name}
	if d.Kind == catalog.Streams {
		return s.planStream(ctx, c, d.Name, v.(config.Stream), opt)
	}
	spec, err := config.Spec(v)
	if err != nil {
		return Change{}, err
	}
	c.spec = spec
	cur, _, err := s.Defs.Get(ctx, d.Kind, d.Name)
	if errors.Is(err, catalog.ErrNoDefinition) {
		c.Op = Create
		return c, nil
	}
	if err != nil {
		return Change{}, err
	}
	if string(cur.Spec) == string(spec) {
		return Change{}, nil
	}
	if d.Kind == catalog.Pipelines {
		if err := checkFrom(cur.Spec, spec, opt.Resets[d.Name]); err != nil {
			return Change{}, &Invalid{Errors: config.FieldErrors{{Path: "from", Message: err.Error()}}}
		}
	}
	c.Op, c.Fields = Update, catalog.DiffFields(cur.Spec, spec)
	return c, nil
}

// planStream compares a declared stream with the catalog's: its settings
// with defaults filled in, and its schema (one equal to an earlier version
// is no change).
func (s *Service) planStream(ctx context.Context, c Change, name string, st config.Stream, opt ApplyOptions) (Change, error) {
	d, err := st.Declared(name, "")
	if err != nil {
		return Change{}, &Invalid{Errors: config.FieldErrors{{Path: "schema", Message: err.Error()}}}
	}
	if _, err := schema.Compile(d.Schema); err != nil {
		return Change{}, &Invalid{Errors: config.FieldErrors{{Path: "schema", Message: err.Error()}}}
	}
	c.spec, _ = config.Spec(st)
	cur, err := s.Streams.Get(ctx, name)
	if errors.Is(err, catalog.ErrNotFound) {
		c.Op = Create
		return c, nil
	}
	if err != nil {
		return Change{}, err
	}
	versions, err := s.Streams.Versions(ctx, name)
	if err != nil {
		return Change{}, err
	}
	schemaSame := false
	var current schema.Bundle
	for _, v := range versions {
		if v.Version == cur.Version {
			current = v.Schema
		}
		if v.Schema.Equal(d.Schema) {
			schemaSame = true // the current version or an earlier one
			if v.Version != cur.Version {
				c.behind = Behind{Stream: name, Declared: v.Version, Current: cur.Version}
			}
		}
	}
	want := d.Def
	want.Defaults()
	wantSpec, err := StreamSpec(want, current)
	if err != nil {
		return Change{}, err
	}
	curSpec, err := StreamSpec(cur, current)
	if err != nil {
		return Change{}, err
	}
	fields := catalog.DiffFields(curSpec, wantSpec)
	if !schemaSame {
		fields = append(fields, "schema")
		if old, err := schema.Compile(current); err == nil {
			if next, err := schema.Compile(d.Schema); err == nil {
				if breaking := schema.Breaking(old, next); len(breaking) > 0 {
					c.Note = fmt.Sprintf("the schema breaks consumers in %d way(s)", len(breaking))
					if !opt.Force {
						return Change{}, &Invalid{Errors: config.FieldErrors{{Path: "schema",
							Message: fmt.Sprintf("breaks consumers in %d way(s): %s (apply with force to replace it anyway)", len(breaking), changesText(breaking))}}}
					}
				}
			}
		}
	}
	if len(fields) == 0 {
		return Change{behind: c.behind}, nil
	}
	c.Op, c.Fields = Update, fields
	return c, nil
}

func changesText(cs []schema.Change) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, "; ")
}

// Apply plans a project and, unless a dry run, carries the plan out in
// the order of catalog.Kinds (deletions in the reverse). A failure stops
// it: what was applied before stays, and the error names the definition.
func (s *Service) Apply(ctx context.Context, defs []catalog.Definition, opt ApplyOptions) (Plan, error) {
	plan, err := s.Plan(ctx, defs, opt)
	if err != nil || opt.DryRun {
		return plan, err
	}
	pruned := map[string]bool{}
	for _, c := range plan.Changes {
		if c.Op == Delete {
			pruned[string(c.Kind)+"."+c.Name] = true
		}
	}
	for _, c := range plan.Changes {
		switch c.Op {
		case Create, Update:
			_, _, err = s.Put(ctx, c.Kind, c.Name, c.spec, PutOptions{Force: opt.Force, Reset: opt.Resets[c.Name], By: opt.By})
		case Delete:
			if c.Kind == catalog.Streams && !opt.Force {
				continue
			}
			err = s.deletePruned(ctx, c, pruned, opt.By)
		}
		if err != nil {
			return plan, fmt.Errorf("%s: %w", c, err)
		}
	}
	plan.Applied = true
	return plan, nil
}

// deletePruned deletes what a prune removes; users deleted with it do
// not hold it back.
func (s *Service) deletePruned(ctx context.Context, c Change, pruned map[string]bool, by string) error {
	users, err := s.users(ctx, c.Kind, c.Name, pruned)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return &InUse{Kind: c.Kind, Name: c.Name, Users: users}
	}
	return s.Delete(ctx, c.Kind, c.Name, true, by)
}

func declaredPipelines(defs []catalog.Definition) map[string]config.Pipeline {
	out := map[string]config.Pipeline{}
	for _, d := range defs {
		if d.Kind != catalog.Pipelines {
			continue
		}
		if v, err := config.Decode(catalog.Pipelines, d.Spec); err == nil {
			out[d.Name] = v.(config.Pipeline)
		}
	}
	return out
}

// SamePlaces lists the files outputs of different pipelines that write the
// same place (objects are named by sequence ranges, so one would take the
// other's for its own), at "pipelines.NAME.to[i].files.url".
func SamePlaces(pipelines map[string]config.Pipeline) field.Errors {
	names := make([]string, 0, len(pipelines))
	for n := range pipelines {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs field.Errors
	seen := map[string]string{}
	for _, name := range names {
		places := filesPlaces(pipelines[name])
		idx := make([]int, 0, len(places))
		for i := range places {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		for _, i := range idx {
			place := places[i]
			if place == "" {
				continue
			}
			p := fmt.Sprintf("pipelines.%s.to[%d].files.url", name, i)
			if other, dup := seen[place]; dup && !strings.HasPrefix(other, "pipelines."+name+".") {
				errs.Add(p, "%s writes the same place: each files output needs its own folder, bucket or prefix", other)
				continue
			}
			if _, dup := seen[place]; !dup {
				seen[place] = p
			}
		}
	}
	return errs
}
