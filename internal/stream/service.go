// Package stream is what a stream is to its users: a schema-checked,
// de-duplicated, replayable log. It joins the catalog (definitions and
// schemas) and the engine (storage), validates on write, and reads from any
// position, seeking event times in O(log n), with reads that leave nothing
// on the engine; live subscribers of a stream share one tail per node.
// Messages it did not write (published straight to the engine) are
// foreign: readers skip or flag them.
package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/schema"
)

// Headers stored with every event.
const (
	hdrID       = "Sluice-Id"
	hdrTime     = "Sluice-Time" // event time, unix nanoseconds
	hdrMark     = "Sluice-Mark" // running maximum of event time up to this event, unix nanoseconds
	hdrKey      = "Sluice-Key"
	hdrVersion  = "Sluice-Schema-Version"
	hdrPosition = "Sluice-Position" // an origin's own position (e.g. an EventStreams id)
	hdrOrigin   = "Sluice-Origin"   // the source or pipeline that wrote it
)

// Service runs the streams. Safe for concurrent use.
type Service struct {
	eng     engine.Engine
	cat     *catalog.Catalog
	log     *slog.Logger
	metrics *Metrics
	Limits  Limits

	// ReadLimits bound what reads cost the node; set before the first read.
	ReadLimits ReadLimits

	mu      sync.Mutex
	schemas map[string]cachedSchema // by stream, checked against the catalog revision
	marks   map[string]*mark        // running max of event time, per stream
	probes  map[string]*markCache   // what time seeks found, per stream

	tailMu sync.Mutex
	tails  map[string]*tail // live subscribers' shared followers, by stream
	closed bool
}

type cachedSchema struct {
	rev     uint64
	def     catalog.Stream
	sch     *schema.Schema
	preview []string // the schema's default preview (schema.DefaultPreview)
}

// New makes a service; metrics may be nil.
func New(eng engine.Engine, cat *catalog.Catalog, log *slog.Logger, m *Metrics) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Service{eng: eng, cat: cat, log: log, metrics: m, Limits: DefaultLimits, ReadLimits: DefaultReadLimits,
		schemas: map[string]cachedSchema{}, marks: map[string]*mark{}, probes: map[string]*markCache{}, tails: map[string]*tail{}}
}

// Engine returns the engine the service stores in.
func (s *Service) Engine() engine.Engine { return s.eng }

// Create makes a new stream.
func (s *Service) Create(ctx context.Context, def catalog.Stream, sch schema.Bundle) (catalog.Stream, error) {
	def.Defaults()
	if err := def.Validate(); err != nil {
		return catalog.Stream{}, err
	}
	if _, _, err := s.cat.Get(ctx, def.Name); err == nil {
		return catalog.Stream{}, fmt.Errorf("%w: %q", catalog.ErrExists, def.Name)
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return catalog.Stream{}, err
	}
	if _, err := schema.Compile(sch); err != nil {
		return catalog.Stream{}, fmt.Errorf("%w: schema: %v", catalog.ErrInvalid, err)
	}
	if err := s.eng.EnsureStream(ctx, def.EngineConfig()); err != nil {
		return catalog.Stream{}, err
	}
	out, err := s.cat.Create(ctx, def, sch)
	if err != nil {
		return catalog.Stream{}, err
	}
	s.log.Info("stream created", "stream", def.Name)
	return out, nil
}

// Applied says what Apply did.
type Applied struct {
	Created, SchemaChanged, SettingsChanged bool
	Version                                 int
	// Behind is set when the declared schema equals an earlier version
	// than the stream's current one (Version): the stream evolved since
	// the declaration was written, and was left as it is.
	Behind int
}

// Apply makes a stream match a declared definition: it creates it, or adds a
// schema version (only a compatible one) and updates its settings. Applying
// the same definition twice changes nothing, and neither does a declared
// schema equal to an earlier version of the stream's (a config file that
// is behind what was changed at run time): see Applied.Behind.
func (s *Service) Apply(ctx context.Context, def catalog.Stream, sch schema.Bundle) (Applied, error) {
	return s.ApplyForced(ctx, def, sch, false)
}

// ApplyForced is Apply that, with force set, replaces the schema even if
// the new one breaks consumers (the breaking changes are recorded).
func (s *Service) ApplyForced(ctx context.Context, def catalog.Stream, sch schema.Bundle, force bool) (Applied, error) {
	def.Defaults()
	if err := def.Validate(); err != nil {
		return Applied{}, err
	}
	if _, _, err := s.cat.Get(ctx, def.Name); errors.Is(err, catalog.ErrNotFound) {
		out, err := s.Create(ctx, def, sch)
		return Applied{Created: true, Version: out.Version}, err
	} else if err != nil {
		return Applied{}, err
	}
	behind, current, err := s.earlierVersion(ctx, def.Name, sch)
	if err != nil {
		return Applied{}, err
	}
	v, schemaChanged := catalog.Version{Version: current}, false
	if behind == 0 {
		if v, schemaChanged, err = s.cat.SetSchema(ctx, def.Name, sch, force); err != nil {
			return Applied{}, err
		}
	}
	// The engine first: settings it refuses (replicas a single server
	// cannot keep, a max_bytes that does not fit) stay out of the catalog.
	if err := s.eng.EnsureStream(ctx, def.EngineConfig()); err != nil {
		return Applied{}, err
	}
	_, settingsChanged, err := s.cat.UpdateSettings(ctx, def)
	if err != nil {
		return Applied{}, err
	}
	return Applied{SchemaChanged: schemaChanged, SettingsChanged: settingsChanged, Version: v.Version, Behind: behind}, nil
}

// earlierVersion finds a version before the current one whose schema is
// sch, and returns its number (0: none) and the current version's.
func (s *Service) earlierVersion(ctx context.Context, name string, sch schema.Bundle) (int, int, error) {
	def, _, err := s.cat.Get(ctx, name)
	if err != nil {
		return 0, 0, err
	}
	versions, err := s.cat.Versions(ctx, name)
	if err != nil {
		return 0, 0, err
	}
	for i := len(versions) - 1; i >= 0; i-- {
		v := versions[i]
		if v.Version == def.Version && v.Schema.Equal(sch) {
			return 0, def.Version, nil // the current one: nothing to do
		}
		if v.Version < def.Version && v.Schema.Equal(sch) {
			return v.Version, def.Version, nil
		}
	}
	return 0, def.Version, nil
}

// SetSchema adds a schema version (see catalog.SetSchema).
func (s *Service) SetSchema(ctx context.Context, name string, sch schema.Bundle, force bool) (catalog.Version, bool, error) {
	v, changed, err := s.cat.SetSchema(ctx, name, sch, force)
	if err == nil && changed {
		s.log.Info("stream schema replaced", "stream", name, "version", v.Version, "forced", v.Forced, "breaking", len(v.Breaking))
	}
	return v, changed, err
}

// Delete removes a stream and every event in it.
func (s *Service) Delete(ctx context.Context, name string) error {
	err := s.cat.Delete(ctx, name)
	if errors.Is(err, engine.ErrNoSpace) {
		// Out of space the catalog cannot record the deletion, while
		// deleting is how space is freed: drop the events first, then record
		// it (if that still fails, deleting again finishes the job).
		if err := s.eng.DeleteStream(ctx, name); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return err
		}
		err = s.cat.Delete(ctx, name)
	}
	if err != nil {
		return err
	}
	if err := s.eng.DeleteStream(ctx, name); err != nil && !errors.Is(err, engine.ErrNotFound) {
		return err
	}
	s.dropTail(name)
	s.mu.Lock()
	delete(s.schemas, name)
	delete(s.marks, name)
	delete(s.probes, name)
	s.mu.Unlock()
	s.log.Info("stream deleted", "stream", name)
	return nil
}

// List returns every stream definition.
func (s *Service) List(ctx context.Context) ([]catalog.Stream, error) { return s.cat.List(ctx) }

// Get returns a stream definition.
func (s *Service) Get(ctx context.Context, name string) (catalog.Stream, error) {
	def, _, err := s.cat.Get(ctx, name)
	return def, err
}

// Versions returns every schema version of a stream.
func (s *Service) Versions(ctx context.Context, name string) ([]catalog.Version, error) {
	if _, _, err := s.cat.Get(ctx, name); err != nil {
		return nil, err
	}
	return s.cat.Versions(ctx, name)
}

// Info is a stream's definition, schema and state.
type Info struct {
	catalog.Stream
	Schema    json.RawMessage `json:"schema"`
	Versions  []VersionInfo   `json:"versions"`
	Messages  uint64          `json:"messages"`
	Bytes     uint64          `json:"bytes"`
	FirstSeq  uint64          `json:"first_seq"`
	LastSeq   uint64          `json:"last_seq"`
	FirstTime *time.Time      `json:"first_time"`
	LastTime  *time.Time      `json:"last_time"`
	// RatePerSecond is the mean arrival rate over the last minute.
	RatePerSecond float64 `json:"rate_per_s"`
	// Replicas is the number of copies the engine keeps now: the
	// definition's replicas (Stream.Replicas, which this hides in JSON), or
	// the node's default when it sets none.
	Replicas int `json:"replicas"`
	// Preview is the definition's preview (Stream.Preview, which this
	// hides in JSON), or the default chosen from the current schema when it
	// sets none (PreviewDefault): so the UI and the CLI show the same.
	Preview        []string `json:"preview"`
	PreviewDefault bool     `json:"preview_default,omitempty"`
	// Leader is the server that stores the stream's events first; "" when
	// the stream has none now (a NATS cluster electing, or without quorum)
	// or when the engine is a single server.
	Leader string `json:"leader,omitempty"`
	// Followers are the other copies, as the leader sees them.
	Followers []Follower `json:"followers,omitempty"`
}

// Follower is a copy of a stream that is not its leader.
type Follower struct {
	Name    string `json:"name"`    // its server
	Current bool   `json:"current"` // it has everything the leader stored
	Offline bool   `json:"offline,omitempty"`
	Lag     uint64 `json:"lag"` // operations it is behind the leader
}

// VersionInfo summarises a schema version.
type VersionInfo struct {
	Version  int             `json:"version"`
	Created  time.Time       `json:"created"`
	Forced   bool            `json:"forced,omitempty"`
	Breaking []schema.Change `json:"breaking,omitempty"`
}

// Info reports a stream's definition, schema versions and state.
func (s *Service) Info(ctx context.Context, name string) (Info, error) {
	c, err := s.schema(ctx, name)
	if err != nil {
		return Info{}, err
	}
	versions, err := s.cat.Versions(ctx, name)
	if err != nil {
		return Info{}, err
	}
	st, err := s.eng.State(ctx, name)
	if err != nil {
		return Info{}, err
	}
	b := c.sch.Bundle()
	out := Info{Stream: c.def, Schema: b.Resources[b.Root], Messages: st.Messages, Bytes: st.Bytes, FirstSeq: st.FirstSeq, LastSeq: st.LastSeq,
		Replicas: max(st.Replicas, 1), Leader: st.Leader, Preview: c.def.Preview}
	if len(out.Preview) == 0 {
		out.Preview, out.PreviewDefault = c.preview, true
	}
	for _, f := range st.Followers {
		out.Followers = append(out.Followers, Follower{Name: f.Name, Current: f.Current, Offline: f.Offline, Lag: f.Lag})
	}
	for _, v := range versions {
		out.Versions = append(out.Versions, VersionInfo{Version: v.Version, Created: v.Created, Forced: v.Forced, Breaking: v.Breaking})
	}
	if st.Messages > 0 {
		if m, err := s.eng.Get(ctx, name, st.FirstSeq); err == nil {
			out.FirstTime = headerTime(m.Header, hdrTime)
		}
		if m, err := s.eng.Get(ctx, name, st.LastSeq); err == nil {
			out.LastTime = headerTime(m.Header, hdrTime)
		}
		out.RatePerSecond = s.rate(ctx, name, st)
	}
	return out, nil
}

func headerTime(h map[string]string, key string) *time.Time {
	n, err := strconv.ParseInt(h[key], 10, 64)
	if err != nil {
		return nil
	}
	t := time.Unix(0, n).UTC()
	return &t
}

// schema returns the stream's definition and compiled current schema,
// recompiling only when the catalog entry changed (on any node).
func (s *Service) schema(ctx context.Context, name string) (cachedSchema, error) {
	def, rev, err := s.cat.Get(ctx, name)
	if err != nil {
		return cachedSchema{}, err
	}
	s.mu.Lock()
	c, ok := s.schemas[name]
	s.mu.Unlock()
	if ok && c.rev == rev {
		return c, nil
	}
	v, err := s.cat.Version(ctx, name, def.Version)
	if err != nil {
		return cachedSchema{}, err
	}
	sch, err := schema.Compile(v.Schema)
	if err != nil {
		return cachedSchema{}, fmt.Errorf("stored schema of %q v%d: %w", name, def.Version, err)
	}
	c = cachedSchema{rev: rev, def: def, sch: sch, preview: schema.DefaultPreview(sch)}
	s.mu.Lock()
	s.schemas[name] = c
	s.mu.Unlock()
	return c, nil
}
