package config

import (
	"fmt"
	"slices"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/field"
	"github.com/sluice-dev/sluice/internal/schema"
)

// namePath is where a bad name is reported: the entry itself in a file
// (streams.NAME), the name field in an API body.
func namePath(p string) string {
	if p == "" {
		return "name"
	}
	return p
}

// adder records a problem at a field's path.
type adder func(path, format string, args ...any)

// sub joins a field to a definition's path ("" for the definition itself).
func sub(p, field string) string {
	if p == "" {
		return field
	}
	if field == "" || field[0] == '[' {
		return p + field
	}
	return p + "." + field
}

// Check lists a stream definition's problems, at their paths.
func (s Stream) Check(name string) field.Errors {
	var errs field.Errors
	s.validate(name, "", errs.Add)
	return errs
}

func (s Stream) validate(name, p string, add adder) {
	if !catalog.ValidName(name) {
		add(namePath(p), "stream names are %s", catalog.NameRule)
	}
	if s.Schema.empty() && s.SchemaBundle == nil {
		add(sub(p, "schema"), "required: no schema, no stream (in a file: the path of a JSON Schema relative to it, or the schema itself)")
	}
	if !s.Schema.empty() && s.SchemaBundle != nil {
		add(sub(p, "schema_bundle"), "give schema or schema_bundle, not both")
	}
	for field, ptr := range map[string]string{"id": s.ID, "time": s.Time} {
		if ptr != "" && !schema.ValidPointer(ptr) {
			add(sub(p, field), "%q is not a JSON pointer (e.g. /meta/id)", ptr)
		}
	}
	for i, ptr := range s.Key {
		if ptr == "" || !schema.ValidPointer(ptr) {
			add(sub(p, fmt.Sprintf("key[%d]", i)), "%q is not a JSON pointer (e.g. /wiki)", ptr)
		}
	}
	if len(s.Preview) > catalog.MaxPreview {
		add(sub(p, "preview"), "at most %d fields, got %d", catalog.MaxPreview, len(s.Preview))
	}
	for i, ptr := range s.Preview {
		at := sub(p, fmt.Sprintf("preview[%d]", i))
		if ptr == "" || !schema.ValidPointer(ptr) {
			add(at, "%q is not a JSON pointer (e.g. /title)", ptr)
		} else if slices.Index(s.Preview, ptr) < i {
			add(at, "%q given twice", ptr)
		}
	}
	if s.Retention.MaxAge < 0 {
		add(sub(p, "retention.max_age"), "cannot be negative")
	}
	if !catalog.ValidReplicas(s.Replicas) {
		add(sub(p, "replicas"), "want %s, got %d", catalog.ReplicasRule, s.Replicas)
	}
}
