package pipeline

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/field"
	"github.com/sluice-dev/sluice/internal/filter"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
	"github.com/sluice-dev/sluice/internal/table"
)

// Definition is a pipeline as a sluice.yaml entry or an API body declares
// it (docs/PIPELINES.md); the node builds a Spec of it.
type Definition struct {
	From string `yaml:"from,omitempty"`
	// Start is where a new pipeline begins: earliest, latest (default), an
	// RFC 3339 time or a sequence.
	Start string `yaml:"start,omitempty"`
	// Where is a CEL expression over `event`; only matching events reach the function.
	Where    string      `yaml:"where,omitempty"`
	Function FunctionRef `yaml:"function,omitempty"`
	To       []OutputRef `yaml:"to,omitempty"`
	// MaxInFlight bounds events between input and outputs (default 1000).
	MaxInFlight int `yaml:"max_in_flight,omitempty"`
}

// FunctionRef names a function and its config.
type FunctionRef struct {
	Name   string         `yaml:"name,omitempty"`
	Config map[string]any `yaml:"config,omitempty"`
}

// OutputRef is one output of a pipeline: exactly one kind (stream, table,
// sql, files) as its key, its settings as the value.
type OutputRef struct {
	Kinds map[string]any `yaml:",inline"`
}

// Kind is the output's kind and its settings ("" unless exactly one).
func (o OutputRef) Kind() (string, any) {
	if len(o.Kinds) != 1 {
		return "", nil
	}
	for k, v := range o.Kinds {
		return k, v
	}
	return "", nil
}

// Stream is the stream a stream output writes ("" for other kinds).
func (o OutputRef) Stream() string { s, _ := o.Kinds["stream"].(string); return s }

// Table is the table a table output writes ("" for other kinds).
func (o OutputRef) Table() string { s, _ := o.Kinds["table"].(string); return s }

// Streams are the streams of the pipeline's stream outputs, in order.
func (d Definition) Streams() []string {
	var out []string
	for _, o := range d.To {
		if s := o.Stream(); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// OutputKind is a kind of output: its settings, their checks, its docs and
// its constructor. The kinds a pipeline writes itself are here (stream,
// table, sql); files outputs (package files) read a stream output of the
// pipeline instead, so their kind has no New: the node runs them as sinks.
type OutputKind struct {
	Name string
	Doc  string
	// Check lists the problems of the settings (the value under the
	// kind's key) of an output of d, at their paths under the kind.
	Check func(settings any, d Definition, env CheckEnv) field.Errors
	// New builds the output; nil for a kind the pipeline does not write.
	New func(settings any, env OutputEnv) (Output, error)
}

// CheckEnv is what output checks may consult beyond the definition.
type CheckEnv struct {
	// HasTable says whether a table is defined; nil: not checked.
	HasTable func(name string) bool
}

// OutputEnv is what building an output needs from the node.
type OutputEnv struct {
	Pipeline string // the pipeline's name
	From     string // its input stream
	Streams  *stream.Service
	Tables   table.Store
	// Table is a defined table's definition.
	Table func(name string) (TableDefinition, bool)
	Dir   string // the data directory (relative SQLite paths)
}

// Outputs is the registry of output kinds.
type Outputs struct{ kinds map[string]OutputKind }

// NewOutputs makes a registry; a kind given twice panics.
func NewOutputs(kinds ...OutputKind) *Outputs {
	r := &Outputs{kinds: map[string]OutputKind{}}
	for _, k := range kinds {
		if _, dup := r.kinds[k.Name]; dup {
			panic("output kind registered twice: " + k.Name)
		}
		r.kinds[k.Name] = k
	}
	return r
}

// Kind returns a registered kind.
func (r *Outputs) Kind(name string) (OutputKind, bool) { k, ok := r.kinds[name]; return k, ok }

// Kinds lists the kinds by name.
func (r *Outputs) Kinds() []OutputKind {
	out := make([]OutputKind, 0, len(r.kinds))
	for _, k := range r.kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *Outputs) names() string {
	var n []string
	for _, k := range r.Kinds() {
		n = append(n, k.Name)
	}
	return strings.Join(n, ", ")
}

// Check lists the problems of a pipeline definition, each at its path
// ("where", "to[1].table"); the function's config is its kind's to check
// (when the pipeline is built).
func (r *Outputs) Check(name string, d Definition, env CheckEnv) field.Errors {
	var errs field.Errors
	if !ValidName(name) {
		errs.Add("name", "pipeline names are [a-z0-9][a-z0-9_-]{0,63}")
	}
	if d.From == "" {
		errs.Add("from", "required: the stream to read")
	}
	if d.Start != "" {
		if _, err := event.ParsePosition(d.Start); err != nil {
			errs.Add("start", "%v", err)
		}
	}
	if d.Where != "" {
		if _, err := filter.Compile(d.Where); err != nil {
			errs.Add("where", "%v", err)
		}
	}
	if d.Function.Name == "" {
		errs.Add("function.name", "required (e.g. jq, identity, mediawiki.page_images)")
	}
	if len(d.To) == 0 {
		errs.Add("to", "at least one output")
	}
	for i, o := range d.To {
		p := fmt.Sprintf("to[%d]", i)
		kind, settings := o.Kind()
		k, ok := r.kinds[kind]
		switch {
		case kind == "":
			errs.Add(p, "give exactly one kind: %s", r.names())
		case !ok:
			errs.Add(p+"."+kind, "unknown kind of output (want %s)", r.names())
		default:
			errs.Under(p+"."+kind, k.Check(settings, d, env))
		}
	}
	if d.MaxInFlight < 0 {
		errs.Add("max_in_flight", "cannot be negative")
	}
	return errs
}

// Build makes the outputs the pipeline writes, in order (kinds without
// New are left out); on an error the ones made are closed.
func (r *Outputs) Build(d Definition, env OutputEnv) ([]Output, error) {
	var out []Output
	for i, o := range d.To {
		kind, settings := o.Kind()
		k, ok := r.kinds[kind]
		if !ok {
			closeOutputs(out)
			return nil, fmt.Errorf("to[%d]: unknown kind of output %q", i, kind)
		}
		if k.New == nil {
			continue
		}
		built, err := k.New(settings, env)
		if err != nil {
			closeOutputs(out)
			return nil, fmt.Errorf("to[%d].%s: %w", i, kind, err)
		}
		out = append(out, built)
	}
	return out, nil
}

func closeOutputs(outs []Output) {
	for _, o := range outs {
		if c, ok := o.(interface{ Close() error }); ok {
			_ = c.Close()
		}
	}
}

// StreamKind is the stream output: the function's outputs appended to a
// stream, checked against its schema.
var StreamKind = OutputKind{
	Name: "stream",
	Doc:  "append the outputs to a stream (its schema checks them); ids derive from the input, so a redelivery adds nothing",
	Check: func(settings any, _ Definition, _ CheckEnv) field.Errors {
		if s, ok := settings.(string); !ok || !validStream(s) {
			return field.Errors{{Message: fmt.Sprintf("%v: want a stream name", settings)}}
		}
		return nil
	},
	New: func(settings any, env OutputEnv) (Output, error) {
		return NewStreamOutput(env.Streams, env.Pipeline, settings.(string)), nil
	},
}

func validStream(s string) bool { return s != "" && !strings.ContainsAny(s, " *>") }

// TableKind is the table output: a version of a temporal table per output.
var TableKind = OutputKind{
	Name: "table",
	Doc:  "write each input's first output as a version of a temporal table (defined under tables)",
	Check: func(settings any, _ Definition, env CheckEnv) field.Errors {
		s, ok := settings.(string)
		switch {
		case !ok || s == "":
			return field.Errors{{Message: "want a table name"}}
		case env.HasTable != nil && !env.HasTable(s):
			return field.Errors{{Message: fmt.Sprintf("unknown table %q (not declared under tables)", s)}}
		}
		return nil
	},
	New: func(settings any, env OutputEnv) (Output, error) {
		name := settings.(string)
		tb, ok := env.Table(name)
		if !ok || env.Tables == nil {
			return nil, fmt.Errorf("table %q is not defined", name)
		}
		out, err := NewTableOutput(env.Tables, name, env.From, tb.Key, tb.Time, tb.DeleteWhen)
		if err != nil {
			return nil, fmt.Errorf("tables.%s.%w", name, err)
		}
		return out, nil
	},
}

// TableDefinition is a temporal table as sluice.yaml's tables: declares it.
type TableDefinition struct {
	// Key is a CEL expression over `event` giving the key, e.g. 'event.wiki + ":" + event.page_id'.
	Key string `yaml:"key,omitempty"`
	// Time is the JSON pointer to the version's valid-from time (RFC 3339).
	Time string `yaml:"time,omitempty"`
	// DeleteWhen is a CEL expression over `event`: when true the version is a tombstone.
	DeleteWhen string `yaml:"delete_when,omitempty"`
}

// Check lists the table definition's problems, at their paths.
func (tb TableDefinition) Check(name string) field.Errors {
	var errs field.Errors
	if err := table.ValidName(name); err != nil {
		errs.Add("name", "%v", err)
	}
	if tb.Key == "" {
		errs.Add("key", `required: a CEL expression over event, e.g. 'event.wiki + ":" + event.page_id'`)
	} else if _, err := filter.CompileExpr(tb.Key, "event"); err != nil {
		errs.Add("key", "%v", err)
	}
	if tb.Time == "" || !schema.ValidPointer(tb.Time) {
		errs.Add("time", "required: the JSON pointer of the version's time, e.g. /event_time")
	}
	if tb.DeleteWhen != "" {
		if _, err := filter.Compile(tb.DeleteWhen); err != nil {
			errs.Add("delete_when", "%v", err)
		}
	}
	return errs
}
