package config

import "os"

// Function declares a named function (docs/FUNCTIONS.md): exactly one
// kind, given as its key (process: {...}, http: {...}) or as kind: with a
// built-in kind, and the fields every kind shares. config only decodes
// it: each kind's package checks its settings (internal/function/process,
// internal/function/httpfn) and internal/function/invocation the rest,
// with errors naming the field ("functions.NAME.process.timeout: ...").
type Function struct {
	// Kind names a built-in kind (jq, identity, mediawiki.page_images),
	// with Config as its preset config.
	Kind string `yaml:"kind,omitempty"`
	// Config is handed to a process or http function with every batch; for
	// a built-in kind, it is the kind's config.
	Config map[string]any `yaml:"config,omitempty"`
	// MaxBatch bounds the events of one invocation (default 100).
	MaxBatch int `yaml:"max_batch,omitempty"`
	// Payload is sluice (default) or firehose.
	Payload string `yaml:"payload,omitempty"`
	// Doc is shown with the function.
	Doc string `yaml:"doc,omitempty"`
	// Kinds holds the entry's other keys: the kind (process, http) and its settings.
	Kinds map[string]any `yaml:",inline"`
}

// Dir is the folder of the config file: relative paths in it start there
// (the working directory for a config read with Parse).
func (c *Config) Dir() string {
	if c.dir == "" {
		wd, _ := os.Getwd()
		return wd
	}
	return c.dir
}

// Path is the file the config was read from ("" for one not read from a file).
func (c *Config) Path() string { return c.path }
