package source

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/internal/field"
	"github.com/sluice-dev/sluice/internal/filter"
)

// Kind is a kind of source (sse, file): its settings, their checks, their
// docs and its constructor. Each kind's package declares one
// (eventsource.Kind, file.Kind); the node registers them in a Registry,
// which is the only place that knows them all.
type Kind struct {
	Name   string
	Doc    string
	Fields []Field
	// Check reads the kind's settings (the value under its key in the
	// definition, decoded from YAML or JSON) and lists their problems,
	// each at its path under the kind ("url", "paths[0]").
	Check func(settings any) field.Errors
	// New builds the feed of a source named name from settings Check
	// accepts.
	New func(name string, settings any, env Env) (Feed, error)
}

// Field documents one setting of a kind.
type Field struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required,omitempty"`
	Doc      string `json:"doc"`
}

// Env is what a kind's constructor gets from the node.
type Env struct {
	Dir string // where relative paths start
	Log *slog.Logger
}

// Definition is a source as a sluice.yaml entry or an API body declares
// it: exactly one kind (its name as the key, its settings as the value),
// the stream it writes and what it drops.
type Definition struct {
	// To is the stream the events go to; invalid ones go to its
	// dead-letter stream "<to>.dlq".
	To string `yaml:"to,omitempty"`
	// Drop is a CEL expression over `event`: matching events are not
	// stored. Default: Wikimedia's canary events (DefaultDrop). "false"
	// keeps everything.
	Drop *string `yaml:"drop,omitempty"`
	// Dir is the folder the settings' relative paths start from: a
	// project's folder, which `sluice apply` and `serve --config` set.
	Dir string `yaml:"dir,omitempty"`
	// Kinds holds the entry's other keys: the kind and its settings.
	Kinds map[string]any `yaml:",inline"`
}

// Kind is the definition's kind and its settings ("" if it gives none or
// more than one).
func (d Definition) Kind() (string, any) {
	if len(d.Kinds) != 1 {
		return "", nil
	}
	for k, v := range d.Kinds {
		return k, v
	}
	return "", nil
}

// Settings returns the settings of kind as a mapping, to read or change
// (tests and the demo point a source at a simulator); nil if the
// definition is not of that kind.
func (d Definition) Settings(kind string) map[string]any {
	m, _ := d.Kinds[kind].(map[string]any)
	return m
}

// With is a copy of the definition whose settings of kind have the given
// values (others kept): the demo and tests point a feed at a simulator.
func (d Definition) With(kind string, set map[string]any) Definition {
	settings := map[string]any{}
	for k, v := range d.Settings(kind) {
		settings[k] = v
	}
	for k, v := range set {
		if v == nil {
			delete(settings, k)
		} else {
			settings[k] = v
		}
	}
	kinds := map[string]any{}
	for k, v := range d.Kinds {
		kinds[k] = v
	}
	kinds[kind] = settings
	d.Kinds = kinds
	return d
}

// Registry holds the kinds a node knows.
type Registry struct{ kinds map[string]Kind }

// NewRegistry makes a registry of kinds; a name given twice panics.
func NewRegistry(kinds ...Kind) *Registry {
	r := &Registry{kinds: map[string]Kind{}}
	for _, k := range kinds {
		if _, dup := r.kinds[k.Name]; dup {
			panic("source kind registered twice: " + k.Name)
		}
		r.kinds[k.Name] = k
	}
	return r
}

// Kinds lists the kinds by name.
func (r *Registry) Kinds() []Kind {
	out := make([]Kind, 0, len(r.kinds))
	for _, k := range r.kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *Registry) names() string {
	var n []string
	for _, k := range r.Kinds() {
		n = append(n, k.Name)
	}
	return strings.Join(n, " or ")
}

// Check lists the problems of a source definition, each at its path in
// the definition ("sse.url", "to").
func (r *Registry) Check(name string, d Definition) field.Errors {
	var errs field.Errors
	if !ValidName(name) {
		errs.Add("name", "source names are [a-z0-9][a-z0-9_-]{0,63}")
	}
	kind, settings := d.Kind()
	k, ok := r.kinds[kind]
	switch {
	case kind == "":
		errs.Add("", "give exactly one kind: %s", r.names())
	case !ok:
		errs.Add(kind, "unknown kind of source (want %s)", r.names())
	default:
		errs.Under(kind, k.Check(settings))
	}
	if d.To == "" {
		errs.Add("to", "required: the stream to write to")
	}
	if d.Dir != "" && !filepath.IsAbs(d.Dir) {
		errs.Add("dir", "%q: want an absolute path", d.Dir)
	}
	if d.Drop != nil {
		if _, err := filter.Compile(*d.Drop); err != nil {
			errs.Add("drop", "%v", err)
		}
	}
	return errs
}

// Spec builds a source from a definition Check accepts.
func (r *Registry) Spec(name string, d Definition, env Env) (Spec, error) {
	if errs := r.Check(name, d); len(errs) > 0 {
		return Spec{}, errs
	}
	drop := DefaultDrop
	if d.Drop != nil {
		drop = *d.Drop
	}
	f, err := filter.Compile(drop)
	if err != nil {
		return Spec{}, fmt.Errorf("drop: %w", err)
	}
	kind, settings := d.Kind()
	if d.Dir != "" {
		env.Dir = d.Dir
	}
	feed, err := r.kinds[kind].New(name, settings, env)
	if err != nil {
		return Spec{}, fmt.Errorf("%s: %w", kind, err)
	}
	return Spec{Name: name, Kind: kind, To: d.To, Drop: f, Feed: feed}, nil
}

// DecodeSettings reads a kind's settings into its config struct (see
// field.Decode).
func DecodeSettings(settings any, into any) error { return field.Decode(settings, into) }
