package files

import (
	"slices"
	"time"

	"github.com/sluice-dev/sluice/internal/field"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/quantity"
)

// Output is a files output as a pipeline declares it (to: [{files: ...}]):
// it writes one of the pipeline's output streams to files or object
// storage (docs/FILES.md).
type Output struct {
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
	MaxBytes  quantity.Size     `yaml:"max_bytes,omitempty"`  // default 64MiB: the events as NDJSON
	MaxAge    quantity.Duration `yaml:"max_age,omitempty"`    // default 5m after the object's first event
	MaxEvents int               `yaml:"max_events,omitempty"` // default 100,000 stream sequences
}

// Config is the output's Config.
func (o Output) Config() Config {
	return Config{URL: o.URL, Format: o.Format, Partition: o.Partition, MaxBytes: int64(o.Roll.MaxBytes),
		MaxAge: time.Duration(o.Roll.MaxAge), MaxEvents: o.Roll.MaxEvents}
}

// StreamOf is the stream the output reads: the one it names, or the
// pipeline's only stream output.
func (o Output) StreamOf(d pipeline.Definition) string {
	if o.Stream != "" {
		return o.Stream
	}
	if s := d.Streams(); len(s) > 0 {
		return s[0]
	}
	return ""
}

// Check lists the output's problems in pipeline d, at their paths.
func (o Output) Check(d pipeline.Definition) field.Errors {
	var errs field.Errors
	if err := CheckURL(o.URL); err != nil {
		errs.Add("url", "%v", err)
	}
	if !ValidFormat(o.Format) {
		errs.Add("format", "%q: want ndjson, ndjson.gz or parquet", o.Format)
	}
	if _, err := ParsePartition(o.Partition); err != nil {
		errs.Add("partition", "%v", err)
	}
	if o.Roll.MaxBytes != 0 && o.Roll.MaxBytes < 1024 {
		errs.Add("roll.max_bytes", "at least 1KiB")
	}
	if o.Roll.MaxAge != 0 && time.Duration(o.Roll.MaxAge) < 100*time.Millisecond {
		errs.Add("roll.max_age", "at least 100ms")
	}
	if o.Roll.MaxEvents < 0 || o.Roll.MaxEvents > MaxMaxEvents {
		errs.Add("roll.max_events", "want 1 to %d", MaxMaxEvents)
	}
	if place := o.Place(); place != "" {
		n := 0
		for _, other := range d.To {
			if kind, settings := other.Kind(); kind == "files" {
				if f, err := Decode(settings); err == nil && f.Place() == place {
					n++
				}
			}
		}
		if n > 1 {
			errs.Add("url", "another files output of this pipeline writes the same place: each needs its own folder, bucket or prefix")
		}
	}
	streams := d.Streams()
	switch {
	case len(streams) == 0:
		errs.Add("", "a files output writes the pipeline's output stream: add a stream output to this pipeline (to: [{stream: NAME}, {files: ...}])")
	case o.Stream == "" && len(streams) > 1:
		errs.Add("stream", "required: the pipeline has %d stream outputs; name the one to write (one of %v)", len(streams), streams)
	case o.Stream != "" && !slices.Contains(streams, o.Stream):
		errs.Add("stream", "%q is not a stream output of this pipeline (%v)", o.Stream, streams)
	}
	return errs
}

// Decode reads a files output's settings.
func Decode(settings any) (Output, error) {
	var o Output
	if err := field.Decode(settings, &o); err != nil {
		return Output{}, err
	}
	return o, nil
}

// Kind is the files output kind. The pipeline does not write it: a sink of
// its own reads the pipeline's output stream (New, run by the node), so a
// pipeline never waits for an object to fill.
var Kind = pipeline.OutputKind{
	Name: "files",
	Doc:  "write a stream output of the pipeline to files or object storage (file://, s3://): NDJSON, gzip or Parquet objects named by sequence range",
	Check: func(settings any, d pipeline.Definition, _ pipeline.CheckEnv) field.Errors {
		o, err := Decode(settings)
		if err != nil {
			return field.Errors{{Message: err.Error()}}
		}
		return o.Check(d)
	},
}

// Place is where an output writes (scheme, bucket or folder, prefix),
// for the check that no two outputs write the same place; "" if its URL
// is not valid.
func (o Output) Place() string {
	if CheckURL(o.URL) != nil {
		return ""
	}
	return Redact(o.URL)
}
