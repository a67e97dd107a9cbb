package config

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/sluice-dev/sluice/internal/schema"
)

// SchemaRef is a stream's schema in a file: the path of a JSON Schema
// document (JSON or YAML, its local $refs followed), relative to the
// file, or the schema itself, inline.
type SchemaRef struct {
	Path string
	Doc  any // the inline document, decoded
}

func (r SchemaRef) empty() bool { return r.Path == "" && r.Doc == nil }

func (r *SchemaRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!bool" {
		r.Path, r.Doc = n.Value, nil
		return nil
	}
	var doc any
	if err := n.Decode(&doc); err != nil {
		return err
	}
	r.Path, r.Doc = "", doc
	return nil
}

func (r SchemaRef) MarshalYAML() (any, error) {
	if r.Doc != nil {
		return r.Doc, nil
	}
	return r.Path, nil
}

// Bundle loads the schema: the file at Path (relative to dir) or the
// inline document.
func (r SchemaRef) Bundle(dir string) (schema.Bundle, error) {
	if r.Doc != nil {
		raw, err := json.Marshal(r.Doc)
		if err != nil {
			return schema.Bundle{}, fmt.Errorf("%w: %v", schema.ErrInvalid, err)
		}
		return schema.FromDocument("urn:sluice:schema", raw)
	}
	path := r.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	return schema.LoadFile(path)
}

// BundleRef is a schema of several documents as the API shows it
// ({"root": URL, "resources": {URL: document}}).
type BundleRef struct{ schema.Bundle }

func (b *BundleRef) UnmarshalYAML(n *yaml.Node) error {
	var doc any
	if err := n.Decode(&doc); err != nil {
		return err
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &b.Bundle); err != nil {
		return fmt.Errorf("line %d: schema_bundle: want {root: URL, resources: {URL: document}}: %v", n.Line, err)
	}
	return nil
}

func (b BundleRef) MarshalYAML() (any, error) {
	raw, err := json.Marshal(b.Bundle)
	if err != nil {
		return nil, err
	}
	var doc any
	return doc, json.Unmarshal(raw, &doc)
}
