package schema

import (
	"slices"
	"strings"
)

// MaxDefaultPreview is how many fields DefaultPreview chooses.
const MaxDefaultPreview = 4

// Names DefaultPreview never chooses: the envelope ($schema, meta) and
// fields that hold long text.
var previewSkip = map[string]bool{
	"$schema": true, "meta": true,
	"comment": true, "parsedcomment": true, "log_action_comment": true,
	"description": true, "summary": true, "text": true, "body": true, "content": true, "html": true,
}

// Names that sum an event up well, best first.
var previewPreferred = []string{"title", "name", "wiki", "user", "type", "kind", "status", "state", "action", "event_time"}

// DefaultPreview chooses the fields that sum an event up when its stream
// names none: up to MaxDefaultPreview top-level properties holding a
// scalar (string, number, integer, boolean), as JSON pointers. Common
// names come first (title, name, wiki, user, type...), then required
// properties, then the rest; ids last, and "id" only when nothing else
// qualifies; by name within each rank, so the choice is the same on every
// node. For Wikimedia's recentchange: /title, /wiki, /user, /type.
func DefaultPreview(s *Schema) []string {
	root := s.deref(nodeRef{s.bundle.Root, s.Root()})
	m, _ := root.v.(map[string]any)
	props, _ := m["properties"].(map[string]any)
	required := map[string]bool{}
	if list, ok := m["required"].([]any); ok {
		for _, r := range list {
			if name, ok := r.(string); ok {
				required[name] = true
			}
		}
	}
	type candidate struct {
		name string
		rank int
	}
	var cs []candidate
	for name, p := range props {
		if previewSkip[name] || !scalarSchema(s.deref(nodeRef{root.base, p}).v) {
			continue
		}
		rank := len(previewPreferred)
		if i := slices.Index(previewPreferred, name); i >= 0 {
			rank = i
		}
		switch {
		case rank < len(previewPreferred):
		case name == "id":
			rank += 4
		case idLike(name):
			rank += 3 // page_id, pageId: an id, but of something
		case required[name]:
			rank++
		default:
			rank += 2
		}
		cs = append(cs, candidate{name, rank})
	}
	if len(cs) > 1 { // "id" alone is better than nothing
		cs = slices.DeleteFunc(cs, func(c candidate) bool { return c.name == "id" })
	}
	slices.SortFunc(cs, func(a, b candidate) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return strings.Compare(a.name, b.name)
	})
	out := []string{}
	for _, c := range cs[:min(len(cs), MaxDefaultPreview)] {
		out = append(out, Pointer([]string{c.name}))
	}
	return out
}

// idLike reports a name of an id of something: page_id, pageId, uuid.
func idLike(name string) bool {
	for _, suffix := range []string{"_id", "-id", "Id", "ID", "uuid"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// scalarSchema reports whether a property's schema holds a string, a
// number or a boolean (or null besides): what fits in one line.
func scalarSchema(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	types := typeSet(m["type"])
	if len(types) == 0 {
		return false
	}
	some := false
	for _, t := range types {
		switch t {
		case "string", "number", "integer", "boolean":
			some = true
		case "null":
		default:
			return false
		}
	}
	return some
}
