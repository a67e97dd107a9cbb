// Package config reads sluice.yaml: where data lives, how to reach the
// engine and the node's limits, and the definitions the file declares
// (streams, tables, functions, sources, pipelines). It only decodes and
// resolves relative paths: each kind checks its own definitions (package
// project runs the checks), and Definitions turns the entries into the
// catalog's specs. Errors name the path of the field at fault
// ("streams.wiki.retention.max_bytes: ...").
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

	"go.yaml.in/yaml/v3"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/quantity"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/source"
)

// Config is a sluice.yaml file.
type Config struct {
	// Data is the data directory (embedded engine storage); relative to the working directory.
	Data string `yaml:"data"`
	// Addr is the HTTP listen address of the API and UI.
	Addr string `yaml:"addr"`
	// Node names this node among those sharing the engine (default: the host name; see NodeName).
	Node string `yaml:"node"`
	NATS NATS   `yaml:"nats"`
	// NATSReplicas is the replicas of sluice's own buckets (catalog,
	// positions, leases) and of streams that set none (see KVReplicas).
	NATSReplicas int `yaml:"nats_replicas"`
	// Cluster says how nodes sharing the engine share their work.
	Cluster Cluster `yaml:"cluster"`
	Limits  Limits  `yaml:"limits"`
	// HTTP bounds the HTTP server and says which other origins' pages may use it.
	HTTP HTTP `yaml:"http"`
	// Auth turns access control on: tokens, grants, sign-in (docs/ACCESS.md).
	Auth Auth `yaml:"auth"`
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
	// Replicas is the older spelling of nats_replicas.
	Replicas int `yaml:"replicas"`
	// MaxStore caps the embedded server's file store; unset: the size of the
	// data directory's filesystem less min_free_disk (set by engine/jetstream).
	MaxStore Size `yaml:"max_store"`
	// MinFreeDisk is the free space the embedded server keeps on the data
	// directory's filesystem: below it appends are refused (507) before the
	// disk is full. Unset: 5% of the filesystem, at most 1GiB; 0: no reserve.
	MinFreeDisk *Size `yaml:"min_free_disk"`

	// User and Password are sluice's own NATS identity: a user of the
	// embedded server (with every permission) and of its in-process
	// connection, or what sluice's connection to nats.url presents.
	// PasswordEnv names an environment variable holding the password
	// instead, so that it need not be in the file (nats.go: Credentials).
	User        string `yaml:"user"`
	Password    string `yaml:"password"`
	PasswordEnv string `yaml:"password_env"`
	// NkeySeedFile is the path (relative to the config file) of an nkey
	// seed: sluice's identity instead of user and password. On the
	// embedded server it is a user by the seed's public key.
	NkeySeedFile string `yaml:"nkey_seed_file"`
	// CredsFile is the path of a .creds file (user JWT and seed), for an
	// external NATS that uses JWT accounts.
	CredsFile string `yaml:"creds_file"`
	// Users are other clients of the embedded server's port (nats.listen)
	// and what each may publish and subscribe to.
	Users []NATSUser `yaml:"users"`
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
	SchemaBundle *BundleRef `yaml:"schema_bundle,omitempty"`
	ID           string     `yaml:"id,omitempty"`
	Time         string     `yaml:"time,omitempty"`
	Key          Pointers   `yaml:"key,omitempty"`
	// Preview lists up to 8 JSON pointers whose values sum an event up in
	// one line (the UI's rows, sluice tail --preview); unset: chosen from
	// the schema's top-level fields.
	Preview         Pointers  `yaml:"preview,omitempty"`
	Retention       Retention `yaml:"retention,omitempty"`
	DuplicateWindow Duration  `yaml:"duplicate_window,omitempty"`
	// Replicas is the number of copies the engine keeps: 1, 3 or 5 (on a
	// NATS cluster of at least as many servers); unset: nats_replicas.
	Replicas int `yaml:"replicas,omitempty"`
}

// Source declares a source: exactly one kind and its settings, its
// stream, what it drops (package source; its kinds check their settings).
type Source = source.Definition

// Pipeline declares a pipeline (package pipeline; its output kinds check
// their settings).
type Pipeline = pipeline.Definition

// Table declares a temporal table.
type Table = pipeline.TableDefinition

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
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// The folder is known before Validate: it checks files named
	// relative to it (http.tls).
	c, err := parse(data, filepath.Dir(abs), abs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse reads a config document; unknown fields are errors.
func Parse(data []byte) (*Config, error) { return parse(data, "", "") }

func parse(data []byte, dir, path string) (*Config, error) {
	c := &Config{dir: dir, path: path}
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
	c.Cluster.defaults()
}

// Validate checks the whole file and lists every problem with its path.
func (c *Config) Validate() error {
	var errs []string
	add := func(path, format string, args ...any) {
		errs = append(errs, path+": "+fmt.Sprintf(format, args...))
	}
	if !catalog.ValidReplicas(c.NATS.Replicas) {
		add("nats.replicas", "want %s, got %d", catalog.ReplicasRule, c.NATS.Replicas)
	}
	if !catalog.ValidReplicas(c.NATSReplicas) {
		add("nats_replicas", "want %s, got %d (an even count survives no more failures than the odd one below it)", catalog.ReplicasRule, c.NATSReplicas)
	}
	if c.NATSReplicas != 0 && c.NATS.Replicas != 0 && c.NATSReplicas != c.NATS.Replicas {
		add("nats.replicas", "is the older spelling of nats_replicas; set only one")
	}
	c.Cluster.validate(add)
	if c.NATS.URL != "" && c.NATS.Listen != "" {
		add("nats.listen", "only the embedded server listens; it cannot be set with nats.url")
	}
	c.HTTP.validate(add)
	c.validateTLS(add)
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
	// pipelines and tables are checked by their kinds when applied
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
		Name: name, ID: s.ID, Time: s.Time, Key: s.Key, Preview: s.Preview,
		Retention:       catalog.Retention{MaxAge: catalog.Duration(s.Retention.MaxAge), MaxBytes: int64(s.Retention.MaxBytes)},
		DuplicateWindow: catalog.Duration(s.DuplicateWindow),
		Replicas:        s.Replicas,
	}}, nil
}

// Size is a byte count written as "10GiB", "64MB" or a plain number.
type Size = quantity.Size

// Duration is written as "168h", "90s".
type Duration = quantity.Duration

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
