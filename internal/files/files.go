// Package files writes a pipeline's output stream to files and object
// storage (file:// and s3://, through gocloud.dev/blob) as NDJSON, gzipped
// NDJSON or Parquet objects.
//
// A Sink is a durable consumer of the stream of its own. Objects are named
// by the stream sequence range they hold, "<partition>/<first>-<last>.<ext>"
// with both sequences zero-padded to 20 digits, and an object holds the
// events of one partition only. The sink decides where an object ends
// first (reading the deliveries, keeping nothing but counters), then writes
// it in one pass from the stream under its final name; the storage makes it
// visible only when complete. Deliveries are acknowledged when the object
// that holds them is committed. Before it starts an object at sequence S,
// the sink looks for "<partition of S>/<S>-*": an object committed before a
// crash and not yet acknowledged is skipped, never written twice.
package files

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"
)

// Formats of the objects.
const (
	NDJSON     = "ndjson"
	NDJSONGzip = "ndjson.gz"
	Parquet    = "parquet"
)

// Defaults of a Config.
const (
	DefaultMaxBytes  = 64 << 20
	DefaultMaxAge    = 5 * time.Minute
	DefaultMaxEvents = 100_000
	// MaxMaxEvents bounds MaxEvents: the engine keeps track of every
	// delivery of an object until it is committed.
	MaxMaxEvents = 1_000_000
)

// Config is one files output.
type Config struct {
	// URL is where objects go: file:///abs/dir or s3://bucket?region=...
	// (gocloud.dev/blob URLs; ?prefix=dir/ puts every object under dir/).
	URL string
	// Format is ndjson (default), ndjson.gz or parquet.
	Format string
	// Partition is a text/template over Fields giving the object's folder,
	// e.g. `{{.EventTime.Format "2006/01/02/15"}}`; empty: no folder.
	Partition string
	// MaxBytes ends an object once its events, as NDJSON, reach this size
	// (default 64 MiB; compressed objects are smaller).
	MaxBytes int64
	// MaxAge ends an object this long after its first event arrived (default 5m).
	MaxAge time.Duration
	// MaxEvents ends an object once it spans this many stream sequences
	// (default 100,000, at most 1,000,000).
	MaxEvents int
}

// withDefaults fills the defaults in.
func (c Config) withDefaults() Config {
	if c.Format == "" {
		c.Format = NDJSON
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = DefaultMaxEvents
	}
	return c
}

func contentType(format string) string {
	switch format {
	case NDJSONGzip:
		return "application/gzip"
	case Parquet:
		return "application/vnd.apache.parquet"
	default:
		return "application/x-ndjson"
	}
}

// ValidFormat reports whether f names a format ("" is the default, ndjson).
func ValidFormat(f string) bool {
	switch f {
	case "", NDJSON, NDJSONGzip, Parquet:
		return true
	}
	return false
}

// CheckURL checks a files URL without opening it: file:///absolute/dir,
// file:relative/dir (under the data directory: see Options.Dir) or
// s3://bucket.
func CheckURL(raw string) error {
	if raw == "" {
		return errors.New("required: file:///dir or s3://bucket?region=...")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	switch u.Scheme {
	case "file":
		if u.Opaque != "" {
			if rel := filepath.Clean(u.Opaque); rel == "." || !filepath.IsLocal(rel) {
				return fmt.Errorf("%q: want file:relative/dir, a folder inside the data directory", raw)
			}
			break
		}
		if u.Host != "" || len(u.Path) < 2 || u.Path[0] != '/' {
			return fmt.Errorf("%q: want file:///absolute/dir (three slashes) or file:relative/dir (under the data directory)", raw)
		}
	case "s3":
		if u.Host == "" {
			return fmt.Errorf("%q: want s3://bucket", raw)
		}
	default:
		return fmt.Errorf("%q: want a file:// or s3:// URL", raw)
	}
	if u.User != nil {
		return errors.New("credentials do not go in the URL (S3 reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ~/.aws)")
	}
	return nil
}

// Redact returns the URL without its query (for logs, status and metrics).
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	prefix := u.Query().Get("prefix")
	u.RawQuery = ""
	if prefix != "" {
		u.RawQuery = "prefix=" + url.QueryEscape(prefix)
	}
	return u.String()
}

// resolve makes a relative file: URL absolute, under dir.
func resolve(raw, dir string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "file" || u.Opaque == "" {
		return raw, err
	}
	abs, err := filepath.Abs(filepath.Join(dir, filepath.FromSlash(u.Opaque)))
	if err != nil {
		return "", err
	}
	u.Opaque, u.Path = "", filepath.ToSlash(abs)
	return u.String(), nil
}
