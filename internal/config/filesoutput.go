package config

import (
	"fmt"
	"slices"
	"time"

	"github.com/sluice-dev/sluice/internal/files"
)

// FilesOutput writes a pipeline's output stream to files or object storage
// (see docs/FILES.md). It reads one of the pipeline's stream outputs.
type FilesOutput struct {
	// URL is file:///abs/dir or s3://bucket?region=...&endpoint=...&use_path_style=true;
	// ?prefix=dir/ puts every object under dir/.
	URL string `yaml:"url,omitempty"`
	// Format is ndjson (default), ndjson.gz or parquet.
	Format string `yaml:"format,omitempty"`
	// Partition is a Go text/template giving an object's folder, e.g.
	// '{{.EventTime.Format "2006/01/02/15"}}'; fields: EventTime, Seq, ID,
	// Key, Stream, and {{.Get "/json/pointer"}}. Empty: no folder.
	Partition string `yaml:"partition,omitempty"`
	Roll      Roll   `yaml:"roll,omitempty"`
	// Stream names the stream output to write; needed only when the
	// pipeline has more than one.
	Stream string `yaml:"stream,omitempty"`
}

// Roll says when an object ends.
type Roll struct {
	MaxBytes  Size     `yaml:"max_bytes,omitempty"`  // default 64MiB: the events as NDJSON
	MaxAge    Duration `yaml:"max_age,omitempty"`    // default 5m after the object's first event
	MaxEvents int      `yaml:"max_events,omitempty"` // default 100,000 stream sequences
}

// Config is the output's files.Config.
func (f *FilesOutput) Config() files.Config {
	return files.Config{URL: f.URL, Format: f.Format, Partition: f.Partition, MaxBytes: int64(f.Roll.MaxBytes),
		MaxAge: time.Duration(f.Roll.MaxAge), MaxEvents: f.Roll.MaxEvents}
}

// FilesStream is the stream a files output reads: the one it names, or
// the pipeline's only stream output.
func (pl Pipeline) FilesStream(f *FilesOutput) string {
	if f.Stream != "" {
		return f.Stream
	}
	for _, o := range pl.To {
		if o.Stream != "" {
			return o.Stream
		}
	}
	return ""
}

// validate lists the problems of a files output of pl, each with its path under p.
func (f *FilesOutput) validate(pl Pipeline, p string, add func(path, format string, args ...any)) {
	if err := files.CheckURL(f.URL); err != nil {
		add(p+".url", "%v", err)
	}
	if !files.ValidFormat(f.Format) {
		add(p+".format", "%q: want ndjson, ndjson.gz or parquet", f.Format)
	}
	if _, err := files.ParsePartition(f.Partition); err != nil {
		add(p+".partition", "%v", err)
	}
	if f.Roll.MaxBytes != 0 && f.Roll.MaxBytes < 1024 {
		add(p+".roll.max_bytes", "at least 1KiB")
	}
	if f.Roll.MaxAge != 0 && time.Duration(f.Roll.MaxAge) < 100*time.Millisecond {
		add(p+".roll.max_age", "at least 100ms")
	}
	if f.Roll.MaxEvents < 0 || f.Roll.MaxEvents > files.MaxMaxEvents {
		add(p+".roll.max_events", "want 1 to %d", files.MaxMaxEvents)
	}
	var streams []string
	for _, o := range pl.To {
		if o.Stream != "" {
			streams = append(streams, o.Stream)
		}
	}
	switch {
	case len(streams) == 0:
		add(p, "a files output writes the pipeline's output stream: add a stream output to this pipeline (to: [{stream: NAME}, {files: ...}])")
	case f.Stream == "" && len(streams) > 1:
		add(p+".stream", "required: the pipeline has %d stream outputs; name the one to write (one of %v)", len(streams), streams)
	case f.Stream != "" && !slices.Contains(streams, f.Stream):
		add(p+".stream", "%q is not a stream output of this pipeline (%v)", f.Stream, streams)
	}
}

// validateFilesPlaces checks that no two files outputs, in any pipelines,
// write the same place: their objects are named by sequence ranges, so
// one would take the other's objects for its own.
func (c *Config) validateFilesPlaces(add func(path, format string, args ...any)) {
	seen := map[string]string{}
	for _, name := range sortedKeys(c.Pipelines) {
		for i, o := range c.Pipelines[name].To {
			if o.Files == nil || files.CheckURL(o.Files.URL) != nil {
				continue
			}
			p := fmt.Sprintf("pipelines.%s.to[%d].files.url", name, i)
			place := files.Redact(o.Files.URL) // scheme, bucket or folder, and prefix
			if other, dup := seen[place]; dup {
				add(p, "%s writes the same place: each files output needs its own folder, bucket or prefix", other)
				continue
			}
			seen[place] = p
		}
	}
}
