// Package schema compiles the JSON Schema bound to a stream, validates events
// against it with errors that name the field and the rule, and decides
// whether a new version is backward compatible with the old one.
//
// A schema travels as a Bundle: the root document and every local document
// it references, so any node can compile it from the catalog alone.
package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// Bundle is a schema with every resource it references, by absolute URL.
type Bundle struct {
	Root      string                     `json:"root"`
	Resources map[string]json.RawMessage `json:"resources"`
}

// Schema is a compiled bundle.
type Schema struct {
	bundle   Bundle
	compiled *jsonschema.Schema
	docs     map[string]any // decoded resources, for the compatibility check
}

// ErrInvalid is wrapped by every error about a schema document itself.
var ErrInvalid = errors.New("invalid schema")

// Compile checks a bundle and compiles it. Drafts 2020-12, 2019-09, 7, 6 and
// 4 are accepted, chosen by the document's $schema (2020-12 without one).
func Compile(b Bundle) (*Schema, error) {
	if b.Root == "" {
		return nil, fmt.Errorf("%w: bundle has no root", ErrInvalid)
	}
	if _, ok := b.Resources[b.Root]; !ok {
		return nil, fmt.Errorf("%w: bundle has no resource for its root %q", ErrInvalid, b.Root)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	docs := make(map[string]any, len(b.Resources))
	for u, raw := range b.Resources {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, u, err)
		}
		if err := c.AddResource(u, doc); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, u, err)
		}
		docs[u] = doc
	}
	// Nothing outside the bundle is ever fetched: the loader refuses every URL.
	c.UseLoader(refuseLoader{})
	sch, err := c.Compile(b.Root)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return &Schema{bundle: b, compiled: sch, docs: docs}, nil
}

type refuseLoader struct{}

func (refuseLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("%s is not in the schema bundle (only local files are followed)", u)
}

// Bundle returns the schema's bundle, as stored in the catalog.
func (s *Schema) Bundle() Bundle { return s.bundle }

// Root returns the decoded root document.
func (s *Schema) Root() any { return s.docs[s.bundle.Root] }

// FromDocument makes a bundle of one self-contained document (JSON), named by url.
func FromDocument(u string, doc []byte) (Bundle, error) {
	v, err := Decode(doc)
	if err != nil {
		return Bundle{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if _, ok := v.(map[string]any); !ok {
		if _, isBool := v.(bool); !isBool {
			return Bundle{}, fmt.Errorf("%w: a schema is a JSON object (or true/false)", ErrInvalid)
		}
	}
	canonical, err := json.Marshal(v) // sorted keys: equal documents have equal bytes
	if err != nil {
		return Bundle{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return Bundle{Root: u, Resources: map[string]json.RawMessage{u: canonical}}, nil
}

// LoadFile reads a schema file (JSON or YAML) and every local file that its
// $refs reach, and returns them as a bundle. Remote references are refused.
func LoadFile(path string) (Bundle, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Bundle{}, err
	}
	root := fileURL(abs)
	b := Bundle{Root: root, Resources: map[string]json.RawMessage{}}
	queue := []string{root}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		if _, done := b.Resources[u]; done {
			continue
		}
		raw, doc, err := readDocument(u)
		if err != nil {
			return Bundle{}, err
		}
		b.Resources[u] = raw
		for _, ref := range refs(doc) {
			next, ok, err := localRef(u, ref)
			if err != nil {
				return Bundle{}, err
			}
			if ok {
				queue = append(queue, next)
			}
		}
	}
	return b, nil
}

func fileURL(abs string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
}

// readDocument reads a file:// URL as JSON or YAML and returns it as compact JSON.
func readDocument(u string) (json.RawMessage, any, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	path := filepath.FromSlash(pu.Path)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read schema: %w", err)
	}
	var doc any
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".yaml" || ext == ".yml" {
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
		}
	} else if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
	}
	return raw, doc, nil
}

// refs lists every $ref string in a document.
func refs(doc any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			if r, ok := t["$ref"].(string); ok {
				out = append(out, r)
			}
			for _, c := range t {
				walk(c)
			}
		case []any:
			for _, c := range t {
				walk(c)
			}
		}
	}
	walk(doc)
	return out
}

// localRef resolves ref against base. It reports ok=false for references
// within the same document, and an error for anything not on the local disk.
func localRef(base, ref string) (string, bool, error) {
	bu, err := url.Parse(base)
	if err != nil {
		return "", false, err
	}
	ru, err := url.Parse(ref)
	if err != nil {
		return "", false, fmt.Errorf("%w: $ref %q: %v", ErrInvalid, ref, err)
	}
	abs := bu.ResolveReference(ru)
	abs.Fragment = ""
	if abs.String() == bu.String() {
		return "", false, nil
	}
	if abs.Scheme != "file" {
		if strings.HasPrefix(abs.String(), "https://json-schema.org/") || strings.HasPrefix(abs.String(), "http://json-schema.org/") {
			return "", false, nil // the drafts' meta-schemas are built in
		}
		return "", false, fmt.Errorf("%w: $ref %q: only local files are followed, not %s", ErrInvalid, ref, abs.Scheme)
	}
	return abs.String(), true, nil
}

// Equal reports whether two bundles hold the same documents, whatever
// their URLs (a config file moved to another folder is the same schema).
func (b Bundle) Equal(o Bundle) bool {
	if len(b.Resources) != len(o.Resources) || string(b.Resources[b.Root]) != string(o.Resources[o.Root]) {
		return false
	}
	count := map[string]int{}
	for _, r := range b.Resources {
		count[string(r)]++
	}
	for _, r := range o.Resources {
		count[string(r)]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}
