// Package config reads sluice.yaml: where data lives, how to reach the
// engine, and the streams to declare. Errors name the path of the field at
// fault ("streams.wiki.retention.max_bytes: ...").
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"go.yaml.in/yaml/v3"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/source"
)

// Config is a sluice.yaml file.
type Config struct {
	// Data is the data directory (embedded engine storage); relative to the working directory.
	Data string `yaml:"data"`
	// Addr is the HTTP listen address of the API and UI.
	Addr   string `yaml:"addr"`
	NATS   NATS   `yaml:"nats"`
	Limits Limits `yaml:"limits"`
	// HTTP bounds the HTTP server and says which other origins' pages may use it.
	HTTP HTTP `yaml:"http"`
	// Reads bounds what live subscribers may cost the node.
	Reads Reads `yaml:"reads"`
	// Streams are declared by name and applied at start-up.
	Streams map[string]Stream `yaml:"streams"`
	// Sources read external feeds into streams.
	Sources map[string]Source `yaml:"sources"`
	// Pipelines run a function on a stream's events and write the outputs.
	Pipelines map[string]Pipeline `yaml:"pipelines"`
	// Functions are named functions (functions.go), used by pipelines and invoke by name.
	Functions map[string]Function `yaml:"functions"`
	// TableStore is where temporal tables live: empty for SQLite under the
	// data directory (tables.db), or a postgres:// URL.
	TableStore string `yaml:"table_store"`
	// Tables are temporal tables: every version of every key, queryable as of a time.
	Tables map[string]Table `yaml:"tables"`

	dir  string // folder of the file, for relative paths
	path string // the file
}

// NATS says which engine to use.
type NATS struct {
	// URL of an external NATS server or cluster; empty runs the embedded server.
	URL string `yaml:"url"`
	// Listen makes the embedded server accept NATS clients on host:port; empty: no port.
	Listen string `yaml:"listen"`
	// Replicas per stream in a cluster (default 1).
	Replicas int `yaml:"replicas"`
	// MaxStore caps the embedded server's file store; unset: the size of the
	// data directory's filesystem less min_free_disk (set by engine/jetstream).
	MaxStore Size `yaml:"max_store"`
	// MinFreeDisk is the free space the embedded server keeps on the data
	// directory's filesystem: below it appends are refused (507) before the
	// disk is full. Unset: 5% of the filesystem, at most 1GiB; 0: no reserve.
	MinFreeDisk *Size `yaml:"min_free_disk"`
}

// Limits bound produce requests.
type Limits struct {
	MaxEventBytes   Size `yaml:"max_event_bytes"`
	MaxRequestBytes Size `yaml:"max_request_bytes"`

	ProduceLimits `yaml:",inline"` // limits.go
}

// Stream declares a stream.
type Stream struct {
	// Schema is the path of the JSON Schema (JSON or YAML), relative to
	// the config file, or the schema itself.
	Schema SchemaRef `yaml:"schema,omitempty"`
	// SchemaBundle is a schema of several documents ($ref between them),
	// as GET /v1/streams/{name} shows it; instead of schema.
	SchemaBundle    *BundleRef `yaml:"schema_bundle,omitempty"`
	ID              string     `yaml:"id,omitempty"`
	Time            string     `yaml:"time,omitempty"`
	Key             Pointers   `yaml:"key,omitempty"`
	Retention       Retention  `yaml:"retention,omitempty"`
	DuplicateWindow Duration   `yaml:"duplicate_window,omitempty"`
}

// Source declares a source: exactly one kind and its settings, its
// stream, what it drops (package source; its kinds check their settings).
type Source = source.Definition

// Pipeline declares a pipeline.
type Pipeline struct {
	From string `yaml:"from,omitempty"`
	// Start is where a new pipeline begins: earliest, latest (default), an RFC 3339 time or a sequence.
	Start string `yaml:"start,omitempty"`
	// Where is a CEL expression over `event`; only matching events reach the function.
	Where       string      `yaml:"where,omitempty"`
	Function    FunctionRef `yaml:"function,omitempty"`
	To          []OutputRef `yaml:"to,omitempty"`
	MaxInFlight int         `yaml:"max_in_flight,omitempty"`
}

// Table declares a temporal table.
type Table struct {
	// Key is a CEL expression over `event` giving the key, e.g. 'event.wiki + ":" + event.page_id'.
	Key string `yaml:"key,omitempty"`
	// Time is the JSON pointer to the version's valid-from time (RFC 3339).
	Time string `yaml:"time,omitempty"`
	// DeleteWhen is a CEL expression over `event`: when true the version is a tombstone.
	DeleteWhen string `yaml:"delete_when,omitempty"`
}

// FunctionRef names a function and its config.
type FunctionRef struct {
	Name   string         `yaml:"name,omitempty"`
	Config map[string]any `yaml:"config,omitempty"`
}

// OutputRef is one output of a pipeline: exactly one kind.
type OutputRef struct {
	Stream string       `yaml:"stream,omitempty"`
	Table  string       `yaml:"table,omitempty"`
	SQL    *SQLOutput   `yaml:"sql,omitempty"`
	Files  *FilesOutput `yaml:"files,omitempty"`
}

// SQLOutput writes a pipeline's outputs as rows of a table in PostgreSQL
// or SQLite, created if missing.
type SQLOutput struct {
	// URL is postgres://... (or postgresql://...) or sqlite:PATH
	// (sqlite:///abs/file.db; a relative path is under the data directory).
	URL string `yaml:"url,omitempty"`
	// Table is the SQL table: [a-z_][a-z0-9_]{0,62}.
	Table string `yaml:"table,omitempty"`
	// Mode is append (default: one row per output) or upsert (one row per key).
	Mode string `yaml:"mode,omitempty"`
	// Key lists the columns of the unique key (upsert only, required there).
	Key []string `yaml:"key,omitempty"`
	// Columns maps a column name to a JSON pointer into the output event.
	Columns map[string]string `yaml:"columns,omitempty"`
}

// SQL output modes.
const (
	SQLAppend = "append"
	SQLUpsert = "upsert"
)

var sqlIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// ValidSQLIdent reports whether s can name a table or column of a sql output.
func ValidSQLIdent(s string) bool { return sqlIdent.MatchString(s) }

// validate lists the problems of a sql output, each with its path under p.
func (s *SQLOutput) validate(p string, add func(path, format string, args ...any)) {
	switch {
	case s.URL == "":
		add(p+".url", "required: postgres://... or sqlite:PATH")
	case strings.HasPrefix(s.URL, "postgres://"), strings.HasPrefix(s.URL, "postgresql://"):
	case strings.HasPrefix(s.URL, "sqlite:"):
		if strings.TrimPrefix(strings.TrimPrefix(s.URL, "sqlite:"), "//") == "" {
			add(p+".url", "sqlite: needs a file path, e.g. sqlite:///var/lib/out.db")
		}
	default:
		add(p+".url", "want postgres://... or sqlite:PATH")
	}
	if !ValidSQLIdent(s.Table) {
		add(p+".table", "%q: want [a-z_][a-z0-9_]{0,62}", s.Table)
	}
	switch s.Mode {
	case "", SQLAppend:
		if len(s.Key) > 0 {
			add(p+".key", "only for mode upsert")
		}
	case SQLUpsert:
		if len(s.Key) == 0 {
			add(p+".key", "required for mode upsert: the columns of the unique key")
		}
		seen := map[string]bool{}
		for i, k := range s.Key {
			if _, ok := s.Columns[k]; !ok {
				add(fmt.Sprintf("%s.key[%d]", p, i), "%q is not one of the columns", k)
			}
			if seen[k] {
				add(fmt.Sprintf("%s.key[%d]", p, i), "%q given twice", k)
			}
			seen[k] = true
		}
	default:
		add(p+".mode", "%q: want append or upsert", s.Mode)
	}
	if len(s.Columns) == 0 {
		add(p+".columns", "at least one column: name -> JSON pointer")
	}
	for _, name := range sortedKeys(s.Columns) {
		cp := p + ".columns." + name
		switch {
		case !ValidSQLIdent(name):
			add(cp, "column names are [a-z_][a-z0-9_]{0,62}")
		case strings.HasPrefix(name, "sluice_"):
			add(cp, "names starting with sluice_ are reserved")
		}
		if ptr := s.Columns[name]; ptr == "" || !schema.ValidPointer(ptr) {
			add(cp, "%q: want a JSON pointer, e.g. /page_id", ptr)
		}
	}
}

// Retention bounds what a stream keeps.
type Retention struct {
	MaxAge   Duration `yaml:"max_age,omitempty"`
	MaxBytes Size     `yaml:"max_bytes,omitempty"`
}

// Defaults used when the file and the flags say nothing.
const (
	DefaultData = "./data"
	DefaultAddr = "127.0.0.1:8080"
)

// Load reads and checks a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	c.dir, c.path = filepath.Dir(abs), abs
	return c, nil
}

// Parse reads a config document; unknown fields are errors.
func Parse(data []byte) (*Config, error) {
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.defaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) defaults() {
	if c.Data == "" {
		c.Data = DefaultData
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Limits.MaxEventBytes == 0 {
		c.Limits.MaxEventBytes = 1 << 20
	}
	if c.Limits.MaxRequestBytes == 0 {
		c.Limits.MaxRequestBytes = 32 << 20
	}
	c.Limits.ProduceLimits.defaults()
	c.HTTP.defaults()
}

// kinds counts the kinds an output gives.
func kinds(o OutputRef) int {
	n := 0
	if o.Stream != "" {
		n++
	}
	if o.Table != "" {
		n++
	}
	if o.SQL != nil {
		n++
	}
	if o.Files != nil {
		n++
	}
	return n
}

// Validate checks the whole file and lists every problem with its path.
func (c *Config) Validate() error {
	var errs []string
	add := func(path, format string, args ...any) {
		errs = append(errs, path+": "+fmt.Sprintf(format, args...))
	}
	if c.NATS.Replicas < 0 || c.NATS.Replicas > 5 {
		add("nats.replicas", "want 1 to 5, got %d", c.NATS.Replicas)
	}
	if c.NATS.URL != "" && c.NATS.Listen != "" {
		add("nats.listen", "only the embedded server listens; it cannot be set with nats.url")
	}
	c.HTTP.validate(add)
	c.NATS.validate(add)
	if c.Limits.MaxEventBytes > c.Limits.MaxRequestBytes {
		add("limits.max_event_bytes", "is larger than limits.max_request_bytes")
	}
	if c.Limits.MaxEventBytes > 8<<20 {
		add("limits.max_event_bytes", "at most 8MiB (the engine's message limit)")
	}
	c.Limits.ProduceLimits.validate(add)
	c.Reads.validate(add)
	for _, name := range c.streamNames() {
		c.Streams[name].validate(name, "streams."+name, add)
	}
	// sources are checked by their kinds when applied (source.Registry)
	for _, name := range sortedKeys(c.Pipelines) {
		c.Pipelines[name].validate(name, "pipelines."+name, add, func(t string) bool { _, ok := c.Tables[t]; return ok })
	}
	c.validateFilesPlaces(add)
	for _, name := range sortedKeys(c.Tables) {
		c.Tables[name].validate(name, "tables."+name, add)
	}
	if c.TableStore != "" && !strings.HasPrefix(c.TableStore, "postgres://") && !strings.HasPrefix(c.TableStore, "postgresql://") {
		add("table_store", "want empty (SQLite under the data directory) or a postgres:// URL")
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return nil
}

var pipelineName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *Config) streamNames() []string {
	names := make([]string, 0, len(c.Streams))
	for n := range c.Streams {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Declared is a stream definition with its schema, ready to apply.
type Declared struct {
	Def    catalog.Stream
	Schema schema.Bundle
}

// Declared loads every declared stream's schema (with its local $refs).
func (c *Config) Declared() ([]Declared, error) {
	var out []Declared
	for _, name := range c.streamNames() {
		d, err := c.Streams[name].Declared(name, c.Dir())
		if err != nil {
			return nil, fmt.Errorf("streams.%s.%w", name, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// Declared is the stream named name with its schema loaded (a path is
// taken from dir); an error names the field ("schema: ...").
func (s Stream) Declared(name, dir string) (Declared, error) {
	var b schema.Bundle
	if s.SchemaBundle != nil {
		b = s.SchemaBundle.Bundle
	} else {
		var err error
		if b, err = s.Schema.Bundle(dir); err != nil {
			return Declared{}, fmt.Errorf("schema: %w", err)
		}
	}
	return Declared{Schema: b, Def: catalog.Stream{
		Name: name, ID: s.ID, Time: s.Time, Key: s.Key,
		Retention:       catalog.Retention{MaxAge: catalog.Duration(s.Retention.MaxAge), MaxBytes: int64(s.Retention.MaxBytes)},
		DuplicateWindow: catalog.Duration(s.DuplicateWindow),
	}}, nil
}

// Size is a byte count written as "10GiB", "64MB" or a plain number.
type Size int64

func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := humanize.ParseBytes(n.Value)
	if err != nil || v > 1<<62 {
		return fmt.Errorf("line %d: size %q: want a number of bytes such as 10GiB or 64MB", n.Line, n.Value)
	}
	*s = Size(v)
	return nil
}

// Duration is written as "168h", "90s".
type Duration time.Duration

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: duration %q: want a number and a unit such as 168h or 90s", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Pointers is one JSON pointer or a list of them.
type Pointers []string

func (p *Pointers) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*p = Pointers{n.Value}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*p = list
	return nil
}

// Default is the configuration without a file: embedded engine under
// ./data, API on 127.0.0.1:8080, no streams declared.
func Default() *Config {
	c := &Config{}
	c.defaults()
	c.dir, _ = os.Getwd()
	return c
}
