package schema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Change is one way a new schema version breaks consumers of the old one.
type Change struct {
	Pointer string `json:"pointer"` // JSON pointer into the schema where the change is
	Field   string `json:"field"`   // JSON pointer of the event field it concerns ("/*" for every array item)
	Kind    string `json:"kind"`    // e.g. "property removed", "type narrowed"
	Detail  string `json:"detail"`
}

func (c Change) String() string {
	return fmt.Sprintf("%s (field %s): %s: %s", c.Pointer, orRoot(c.Field), c.Kind, c.Detail)
}

func orRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// Breaking lists every change from old to next that can break a consumer of
// events written under old: a removed or renamed property, a new required
// property, a narrowed type, a removed enum value, a tightened constraint,
// or a change the checker cannot prove harmless. Adding optional properties
// and editing annotations (title, description, examples) are allowed.
func Breaking(old, next *Schema) []Change {
	d := differ{old: old, next: next, seen: map[[2]uintptr]bool{}}
	d.node(nodeRef{old.bundle.Root, old.Root()}, nodeRef{next.bundle.Root, next.Root()}, "", "")
	sort.SliceStable(d.out, func(i, j int) bool { return d.out[i].Pointer < d.out[j].Pointer })
	return d.out
}

type nodeRef struct {
	base string // URL of the document the node is in, to resolve $ref
	v    any
}

type differ struct {
	old, next *Schema
	seen      map[[2]uintptr]bool
	out       []Change
}

func (d *differ) add(ptr, field, kind, format string, args ...any) {
	d.out = append(d.out, Change{Pointer: orRoot(ptr), Field: field, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

// annotations never change what is valid.
var annotations = map[string]bool{
	"title": true, "description": true, "examples": true, "default": true, "$comment": true,
	"deprecated": true, "readOnly": true, "writeOnly": true, "$schema": true, "$id": true, "id": true,
	"definitions": true, "$defs": true, "$anchor": true, "$dynamicAnchor": true, "contentMediaType": true,
	"contentEncoding": true,
}

// checked are the keywords the differ compares one by one.
var checked = map[string]bool{
	"type": true, "properties": true, "required": true, "enum": true, "const": true, "items": true,
	"prefixItems": true, "additionalProperties": true, "allOf": true, "anyOf": true, "oneOf": true, "$ref": true,
}

const maxDepth = 256

var lowerBounds = []string{"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains"}
var upperBounds = []string{"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains"}

func (d *differ) node(o, n nodeRef, ptr, field string) {
	if strings.Count(ptr, "/") > maxDepth {
		d.add(ptr, field, "schema too deep", "nesting deeper than %d levels cannot be checked", maxDepth)
		return
	}
	o, n = d.old.deref(o), d.next.deref(n)
	// Recursive schemas ($ref back to an ancestor) are compared once per pair of nodes.
	if om, ok := o.v.(map[string]any); ok {
		if nm, ok := n.v.(map[string]any); ok {
			key := [2]uintptr{reflect.ValueOf(om).Pointer(), reflect.ValueOf(nm).Pointer()}
			if d.seen[key] {
				return
			}
			d.seen[key] = true
		}
	}

	ob, oIsBool := o.v.(bool)
	nb, nIsBool := n.v.(bool)
	om, _ := o.v.(map[string]any)
	nm, _ := n.v.(map[string]any)
	switch {
	case nIsBool && nb, n.v == nil:
		return // the new schema accepts everything
	case nIsBool && !nb:
		if !(oIsBool && !ob) {
			d.add(ptr, field, "schema tightened", "now false: nothing is valid here")
		}
		return
	case oIsBool && ob || o.v == nil:
		om = map[string]any{}
	case oIsBool && !ob:
		return // nothing was valid before, so nothing can break
	}
	if nm == nil {
		d.add(ptr, field, "schema changed", "unreadable schema node")
		return
	}

	d.types(om, nm, ptr, field)
	d.properties(o, n, om, nm, ptr, field)
	d.required(om, nm, ptr, field)
	d.enum(om, nm, ptr, field)
	d.bounds(om, nm, ptr, field)
	d.items(o, n, om, nm, ptr, field)
	d.additional(o, n, om, nm, ptr, field)
	for _, kw := range []string{"allOf", "anyOf", "oneOf"} {
		d.composition(o, n, om, nm, kw, ptr, field)
	}
	for kw, nv := range nm {
		if annotations[kw] || checked[kw] || slices.Contains(lowerBounds, kw) || slices.Contains(upperBounds, kw) {
			continue
		}
		if ov, ok := om[kw]; !ok || !reflect.DeepEqual(canon(ov), canon(nv)) {
			kind := "constraint added"
			if ok {
				kind = "constraint changed"
			}
			d.add(ptr+"/"+kw, field, kind, "%s: %s -> %s", kw, short(ov), short(nv))
		}
	}
}

// deref follows $ref (to another document of the bundle or a pointer inside one).
func (s *Schema) deref(r nodeRef) nodeRef {
	for range 32 {
		m, ok := r.v.(map[string]any)
		if !ok {
			return r
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return r
		}
		bu, err1 := url.Parse(r.base)
		ru, err2 := url.Parse(ref)
		if err1 != nil || err2 != nil {
			return r
		}
		abs := bu.ResolveReference(ru)
		frag := abs.Fragment
		abs.Fragment = ""
		doc, ok := s.docs[abs.String()]
		if !ok {
			return r
		}
		target, ok := lookup(doc, frag)
		if !ok {
			return r
		}
		// Keep sibling keywords next to $ref (drafts 2019+ apply both).
		if len(m) > 1 {
			if tm, ok := target.(map[string]any); ok {
				merged := map[string]any{}
				for k, v := range tm {
					merged[k] = v
				}
				for k, v := range m {
					if k != "$ref" {
						merged[k] = v
					}
				}
				target = merged
			}
		}
		r = nodeRef{abs.String(), target}
	}
	return r
}

func (d *differ) types(om, nm map[string]any, ptr, field string) {
	nt, ok := nm["type"]
	if !ok {
		return
	}
	newTypes := typeSet(nt)
	ot, ok := om["type"]
	if !ok {
		d.add(ptr+"/type", field, "type narrowed", "any -> %s", short(nt))
		return
	}
	for _, t := range typeSet(ot) {
		if slices.Contains(newTypes, t) || t == "integer" && slices.Contains(newTypes, "number") {
			continue
		}
		d.add(ptr+"/type", field, "type narrowed", "%s no longer accepted (%s -> %s)", t, short(ot), short(nt))
	}
}

func typeSet(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (d *differ) properties(o, n nodeRef, om, nm map[string]any, ptr, field string) {
	op, _ := om["properties"].(map[string]any)
	np, _ := nm["properties"].(map[string]any)
	for _, name := range sortedKeys(op) {
		p := ptr + "/properties/" + escape(name)
		f := field + "/" + escape(name)
		nv, ok := np[name]
		if !ok {
			d.add(p, f, "property removed", "%q is no longer declared (removed or renamed)", name)
			continue
		}
		d.node(nodeRef{o.base, op[name]}, nodeRef{n.base, nv}, p, f)
	}
	// New properties are allowed: the rule is that adding optional
	// properties keeps old consumers working, even where old events could
	// have carried that name as an undeclared extra.
}

func (d *differ) required(om, nm map[string]any, ptr, field string) {
	oldReq := typeSet(om["required"])
	for _, r := range typeSet(nm["required"]) {
		if !slices.Contains(oldReq, r) {
			d.add(ptr+"/required", field+"/"+escape(r), "required property added", "%q is now required", r)
		}
	}
}

func (d *differ) enum(om, nm map[string]any, ptr, field string) {
	for _, kw := range []string{"enum", "const"} {
		nv, ok := nm[kw]
		if !ok {
			continue
		}
		ov, had := om[kw]
		if !had {
			// An old enum or const that fits inside the new one is fine.
			if kw == "enum" {
				if oc, ok := om["const"]; ok && containsValue(nv, oc) {
					continue
				}
			}
			d.add(ptr+"/"+kw, field, "constraint added", "%s %s", kw, short(nv))
			continue
		}
		if kw == "const" {
			if !reflect.DeepEqual(canon(ov), canon(nv)) {
				d.add(ptr+"/const", field, "constraint changed", "const %s -> %s", short(ov), short(nv))
			}
			continue
		}
		ol, _ := ov.([]any)
		for _, v := range ol {
			if !containsValue(nv, v) {
				d.add(ptr+"/enum", field, "enum value removed", "%s is no longer allowed", short(v))
			}
		}
	}
}

func containsValue(list, v any) bool {
	l, _ := list.([]any)
	for _, x := range l {
		if reflect.DeepEqual(canon(x), canon(v)) {
			return true
		}
	}
	return false
}

func (d *differ) bounds(om, nm map[string]any, ptr, field string) {
	check := func(kws []string, tighter func(o, n *big.Rat) bool) {
		for _, kw := range kws {
			nv, ok := nm[kw]
			if !ok {
				continue
			}
			ov, had := om[kw]
			if _, isBool := nv.(bool); isBool { // draft 4's exclusiveMinimum: true
				if !reflect.DeepEqual(ov, nv) && nv == true {
					d.add(ptr+"/"+kw, field, "constraint tightened", "%s: %s -> %s", kw, short(ov), short(nv))
				}
				continue
			}
			nr, ok1 := rat(nv)
			or, ok2 := rat(ov)
			switch {
			case !had:
				d.add(ptr+"/"+kw, field, "constraint added", "%s %s", kw, short(nv))
			case !ok1 || !ok2:
				if !reflect.DeepEqual(ov, nv) {
					d.add(ptr+"/"+kw, field, "constraint changed", "%s: %s -> %s", kw, short(ov), short(nv))
				}
			case tighter(or, nr):
				d.add(ptr+"/"+kw, field, "constraint tightened", "%s: %s -> %s", kw, short(ov), short(nv))
			}
		}
	}
	check(lowerBounds, func(o, n *big.Rat) bool { return n.Cmp(o) > 0 })
	check(upperBounds, func(o, n *big.Rat) bool { return n.Cmp(o) < 0 })
}

func rat(v any) (*big.Rat, bool) {
	switch t := v.(type) {
	case json.Number:
		return new(big.Rat).SetString(string(t))
	case float64:
		return new(big.Rat).SetFloat64(t), true
	case int:
		return new(big.Rat).SetInt64(int64(t)), true
	}
	return nil, false
}

func (d *differ) items(o, n nodeRef, om, nm map[string]any, ptr, field string) {
	for _, kw := range []string{"items", "prefixItems"} {
		nv, ok := nm[kw]
		if !ok {
			continue
		}
		ov := om[kw]
		nl, nIsList := nv.([]any)
		ol, oIsList := ov.([]any)
		switch {
		case nIsList && (oIsList || ov == nil):
			for i, x := range nl {
				var oi any
				if i < len(ol) {
					oi = ol[i]
				}
				d.node(nodeRef{o.base, oi}, nodeRef{n.base, x}, fmt.Sprintf("%s/%s/%d", ptr, kw, i), fmt.Sprintf("%s/%d", field, i))
			}
		case !nIsList && !oIsList:
			d.node(nodeRef{o.base, ov}, nodeRef{n.base, nv}, ptr+"/"+kw, field+"/*")
		default:
			d.add(ptr+"/"+kw, field, "constraint changed", "%s changed form: %s -> %s", kw, short(ov), short(nv))
		}
	}
}

func (d *differ) additional(o, n nodeRef, om, nm map[string]any, ptr, field string) {
	nv, ok := nm["additionalProperties"]
	if !ok {
		return
	}
	d.node(nodeRef{o.base, om["additionalProperties"]}, nodeRef{n.base, nv}, ptr+"/additionalProperties", field+"/*")
}

func (d *differ) composition(o, n nodeRef, om, nm map[string]any, kw, ptr, field string) {
	nv, ok := nm[kw].([]any)
	if !ok {
		return
	}
	ov, _ := om[kw].([]any)
	if len(ov) != len(nv) {
		d.add(ptr+"/"+kw, field, "composition changed", "%s has %d schemas, had %d: compatibility cannot be proven", kw, len(nv), len(ov))
		return
	}
	for i := range nv {
		d.node(nodeRef{o.base, ov[i]}, nodeRef{n.base, nv[i]}, fmt.Sprintf("%s/%s/%d", ptr, kw, i), field)
	}
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// canon makes numbers comparable whatever their decoded form.
func canon(v any) any {
	switch t := v.(type) {
	case json.Number, float64, int:
		if r, ok := rat(t); ok {
			return r.RatString()
		}
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = canon(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = canon(x)
		}
		return out
	}
	return v
}

func short(v any) string {
	if v == nil {
		return "(none)"
	}
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}
