// Package file is the source kind for one-shot imports: it reads NDJSON or
// JSON-array files and finishes. Its position is "<file index>:<event
// index>", so an import interrupted by a crash resumes after the last event
// it stored instead of starting over.
package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/internal/field"
	"github.com/sluice-dev/sluice/internal/source"
)

// Config is the `file:` block of a source.
type Config struct {
	// Paths of NDJSON or JSON-array files, read in order.
	Paths []string `yaml:"paths,omitempty" json:"paths"`
}

// Validate checks the config.
func (c *Config) Validate() error { return c.Check().Err() }

// Check lists the config's problems, each at its field.
func (c *Config) Check() field.Errors {
	var errs field.Errors
	if len(c.Paths) == 0 {
		errs.Add("paths", "at least one file")
	}
	for i, p := range c.Paths {
		if strings.TrimSpace(p) == "" {
			errs.Add(fmt.Sprintf("paths[%d]", i), "empty")
		}
	}
	return errs
}

// Kind is the file source kind: a one-shot import of NDJSON or JSON-array files.
var Kind = source.Kind{
	Name:   "file",
	Doc:    "a one-shot import of NDJSON or JSON-array files, in order; resumes after the last stored event and finishes",
	Fields: []source.Field{{Name: "paths", Type: "[]string", Required: true, Doc: "the files, relative to the project's folder"}},
	Check: func(settings any) field.Errors {
		var c Config
		if err := source.DecodeSettings(settings, &c); err != nil {
			return field.Errors{{Message: err.Error()}}
		}
		return c.Check()
	},
	New: func(_ string, settings any, env source.Env) (source.Feed, error) {
		var c Config
		if err := source.DecodeSettings(settings, &c); err != nil {
			return nil, err
		}
		for i, p := range c.Paths {
			if !filepath.IsAbs(p) {
				c.Paths[i] = filepath.Join(env.Dir, p)
			}
		}
		return New(c), nil
	},
}

// Feed reads the files.
type Feed struct{ cfg Config }

// New makes a feed; paths should be absolute or relative to the working directory.
func New(cfg Config) *Feed { return &Feed{cfg: cfg} }

// Recorded: a file holds recorded events, whose times say nothing of how
// late the import is (see source.Recorded).
func (f *Feed) Recorded() bool { return true }

// Run delivers every event after position from, then returns source.ErrFinished.
func (f *Feed) Run(ctx context.Context, resume source.Resume, out chan<- source.Item, st *source.Status) error {
	startFile, startEvent := 0, 0
	if from := resume.Position; from != "" {
		a, b, ok := strings.Cut(from, ":")
		fi, err1 := strconv.Atoi(a)
		ei, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("file source: stored position %q is not <file>:<event>", from)
		}
		startFile, startEvent = fi, ei+1
	}
	st.Set(source.Streaming)
	for fi := startFile; fi < len(f.cfg.Paths); fi++ {
		skip := 0
		if fi == startFile {
			skip = startEvent
		}
		if err := f.read(ctx, fi, skip, out); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return source.ErrFinished
}

func (f *Feed) read(ctx context.Context, fi, skip int, out chan<- source.Item) error {
	path := f.cfg.Paths[fi]
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("file source: %w", err)
	}
	defer fh.Close()
	br := bufio.NewReaderSize(fh, 1<<20)
	first, _ := br.Peek(512)
	send := func(i int, data []byte) error {
		if i < skip {
			return nil
		}
		select {
		case out <- source.Item{Data: data, Position: fmt.Sprintf("%d:%d", fi, i)}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if t := bytes.TrimSpace(first); len(t) > 0 && t[0] == '[' {
		dec := json.NewDecoder(br)
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("file source: %s: %w", path, err)
		}
		for i := 0; dec.More(); i++ {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("file source: %s: event %d: %w", path, i, err)
			}
			if err := send(i, raw); err != nil {
				return err
			}
		}
		return nil
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for i := 0; sc.Scan(); {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := send(i, append([]byte(nil), line...)); err != nil {
			return err
		}
		i++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("file source: %s: %w", path, err)
	}
	return nil
}
