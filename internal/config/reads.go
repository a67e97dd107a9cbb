package config

// Reads bound what reading and subscribing cost a node (see
// docs/READING.md). Zero values take the defaults of package stream and
// httpapi.
type Reads struct {
	// TailBytes bounds the recent events a node keeps in memory for each
	// stream that has live subscribers, shared by all of them (default 32MiB).
	TailBytes Size `yaml:"tail_bytes"`
	// MaxBehind is how far (bytes of events) a live subscriber may fall
	// behind the newest event before it is dropped (default 8MiB); it
	// reconnects with Last-Event-ID and catches up from the stream.
	MaxBehind Size `yaml:"max_behind"`
	// WriteTimeout bounds each write to a subscriber (default 30s): one
	// that does not take its events meanwhile is dropped.
	WriteTimeout Duration `yaml:"write_timeout"`
}

func (r Reads) validate(add func(path, format string, args ...any)) {
	if r.TailBytes > 0 && r.MaxBehind > r.TailBytes {
		add("reads.max_behind", "is larger than reads.tail_bytes: a subscriber falls out of the tail first")
	}
	if r.WriteTimeout < 0 {
		add("reads.write_timeout", "cannot be negative")
	}
}
