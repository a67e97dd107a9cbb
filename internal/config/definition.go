package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/field"
)

// This file turns the file's entries into definitions for the catalog and
// back: a definition's spec is its entry as JSON (the same fields), with
// the file's relative paths resolved and stream schemas inline, so that a
// spec means the same on any node and from any folder.

// Definitions lists every entry of the file as a definition, in the
// order of catalog.Kinds, then by name.
func (c *Config) Definitions() ([]catalog.Definition, error) {
	var out []catalog.Definition
	add := func(k catalog.Kind, name string, v any) error {
		spec, err := Spec(v)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", k, name, err)
		}
		out = append(out, catalog.Definition{Kind: k, Name: name, Spec: spec})
		return nil
	}
	for _, name := range c.streamNames() {
		s := c.Streams[name]
		d, err := s.Declared(name, c.Dir())
		if err != nil {
			return nil, fmt.Errorf("streams.%s.%w", name, err)
		}
		s.Schema, s.SchemaBundle = SchemaRef{}, nil
		if len(d.Schema.Resources) == 1 {
			var doc any
			if err := json.Unmarshal(d.Schema.Resources[d.Schema.Root], &doc); err != nil {
				return nil, fmt.Errorf("streams.%s.schema: %w", name, err)
			}
			s.Schema.Doc = doc
		} else {
			s.SchemaBundle = &BundleRef{d.Schema}
		}
		if err := add(catalog.Streams, name, s); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(c.Tables) {
		if err := add(catalog.Tables, name, c.Tables[name]); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(c.Functions) {
		if err := add(catalog.Functions, name, c.Functions[name].resolved(c.Dir())); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(c.Sources) {
		s := c.Sources[name]
		s.Dir = abs(c.Dir(), s.Dir)
		if s.Dir == "" {
			s.Dir = c.Dir()
		}
		if err := add(catalog.Sources, name, s); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(c.Pipelines) {
		if err := add(catalog.Pipelines, name, c.Pipelines[name]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func abs(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// resolved is the function with its process's folder and program made
// absolute (the folder defaults to the file's).
func (f Function) resolved(dir string) Function {
	proc, ok := f.Kinds["process"].(map[string]any)
	if !ok {
		return f
	}
	p := make(map[string]any, len(proc)+1)
	for k, v := range proc {
		p[k] = v
	}
	d, _ := p["dir"].(string)
	if d == "" {
		d = dir
	}
	p["dir"] = abs(dir, d)
	if argv, ok := p["command"].([]any); ok && len(argv) > 0 {
		if first, ok := argv[0].(string); ok && strings.Contains(first, "/") {
			argv = append([]any{abs(dir, first)}, argv[1:]...)
			p["command"] = argv
		}
	}
	kinds := make(map[string]any, len(f.Kinds))
	for k, v := range f.Kinds {
		kinds[k] = v
	}
	kinds["process"] = p
	f.Kinds = kinds
	return f
}

// Spec is an entry (Stream, Source, Pipeline, Table, Function) as a
// definition's spec: its fields as canonical JSON, empty ones left out.
//
// A stream's schema goes through encoding/json only: a schema may be
// megabytes, which YAML would take seconds to write and read.
func Spec(v any) (json.RawMessage, error) {
	if st, ok := v.(Stream); ok && (st.Schema.Doc != nil || st.SchemaBundle != nil) {
		rest := st
		rest.Schema, rest.SchemaBundle = SchemaRef{Path: st.Schema.Path}, nil
		spec, err := Spec(rest)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(spec, &m); err != nil {
			return nil, err
		}
		if st.SchemaBundle != nil {
			m["schema_bundle"] = st.SchemaBundle.Bundle
		} else {
			m["schema"] = st.Schema.Doc
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		return catalog.Canonical(raw)
	}
	y, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := yaml.Unmarshal(y, &doc); err != nil {
		return nil, err
	}
	if doc == nil {
		doc = map[string]any{}
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return catalog.Canonical(raw)
}

// Decode reads a spec (JSON, or YAML: the same fields as a file's entry)
// into the entry of its kind: a Stream, Source, Pipeline, Table or
// Function. Unknown fields are errors.
func Decode(k catalog.Kind, spec []byte) (any, error) {
	switch k {
	case catalog.Streams:
		return decodeStream(spec)
	case catalog.Sources:
		return decode[Source](spec)
	case catalog.Pipelines:
		return decode[Pipeline](spec)
	case catalog.Tables:
		return decode[Table](spec)
	case catalog.Functions:
		return decode[Function](spec)
	}
	return nil, fmt.Errorf("unknown kind %q", k)
}

// decodeStream reads a stream's spec; from JSON, its schema is read by
// encoding/json (linear in its size), the rest as any spec.
func decodeStream(spec []byte) (Stream, error) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(spec, &fields) != nil {
		return decode[Stream](spec) // YAML
	}
	sch, hasSchema := fields["schema"]
	bundle, hasBundle := fields["schema_bundle"]
	delete(fields, "schema")
	delete(fields, "schema_bundle")
	rest, _ := json.Marshal(fields)
	st, err := decode[Stream](rest)
	if err != nil {
		return st, err
	}
	if hasSchema {
		var path string
		if json.Unmarshal(sch, &path) == nil {
			st.Schema.Path = path
		} else {
			dec := json.NewDecoder(bytes.NewReader(sch))
			dec.UseNumber()
			if err := dec.Decode(&st.Schema.Doc); err != nil {
				return st, fmt.Errorf("schema: %v", err)
			}
		}
	}
	if hasBundle {
		var b BundleRef
		if err := json.Unmarshal(bundle, &b.Bundle); err != nil {
			return st, fmt.Errorf("schema_bundle: want {root: URL, resources: {URL: document}}: %v", err)
		}
		st.SchemaBundle = &b
	}
	return st, nil
}

func decode[T any](spec []byte) (T, error) {
	var v T
	dec := yaml.NewDecoder(bytes.NewReader(spec))
	dec.KnownFields(true)
	if err := dec.Decode(&v); err != nil && !errors.Is(err, io.EOF) {
		return v, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return v, nil
}

// FieldError is a problem of one field of a definition (package field).
type FieldError = field.Error

// FieldErrors lists a definition's problems.
type FieldErrors = field.Errors
