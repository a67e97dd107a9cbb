package schema

import (
	"strings"
	"testing"
)

const base = `{"type":"object","required":["meta"],"additionalProperties":true,"properties":{
 "meta":{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"dt":{"type":"string","format":"date-time"}}},
 "type":{"type":"string","enum":["edit","new","log"]},
 "bot":{"type":["boolean","null"]},
 "count":{"type":"integer","minimum":0,"maximum":100},
 "title":{"type":"string","maxLength":255},
 "tags":{"type":"array","items":{"type":"string"}},
 "n":{"type":"integer"}}}`

func compile(t *testing.T, doc string) *Schema {
	t.Helper()
	b, err := FromDocument("urn:test", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBreaking(t *testing.T) {
	cases := []struct {
		name    string
		from    string // replaced in base
		to      string
		pointer string // "" means: compatible
		kind    string
	}{
		{"identical", ``, ``, "", ""},
		{"optional property added", `"n":{"type":"integer"}`, `"n":{"type":"integer"},"extra":{"type":"string"}`, "", ""},
		{"description added", `"n":{"type":"integer"}`, `"n":{"type":"integer","description":"a number"}`, "", ""},
		{"enum value added", `"log"]`, `"log","categorize"]`, "", ""},
		{"type widened", `"n":{"type":"integer"}`, `"n":{"type":"number"}`, "", ""},
		{"constraint loosened", `"maximum":100`, `"maximum":1000`, "", ""},
		{"required removed", `"required":["id"]`, `"required":[]`, "", ""},
		{"property removed", `,"dt":{"type":"string","format":"date-time"}`, ``, "/properties/meta/properties/dt", "property removed"},
		{"property renamed", `"title":{`, `"name":{`, "/properties/title", "property removed"},
		{"required added", `"required":["id"]`, `"required":["id","dt"]`, "/properties/meta/required", "required property added"},
		{"type narrowed", `"bot":{"type":["boolean","null"]}`, `"bot":{"type":"boolean"}`, "/properties/bot/type", "type narrowed"},
		{"number to integer", `"n":{"type":"integer"}`, `"n":{"type":"string"}`, "/properties/n/type", "type narrowed"},
		{"enum value removed", `"enum":["edit","new","log"]`, `"enum":["edit","new"]`, "/properties/type/enum", "enum value removed"},
		{"maximum lowered", `"maximum":100`, `"maximum":10`, "/properties/count/maximum", "constraint tightened"},
		{"minimum raised", `"minimum":0`, `"minimum":1`, "/properties/count/minimum", "constraint tightened"},
		{"maxLength lowered", `"maxLength":255`, `"maxLength":10`, "/properties/title/maxLength", "constraint tightened"},
		{"pattern added", `"title":{"type":"string"`, `"title":{"type":"string","pattern":"^A"`, "/properties/title/pattern", "constraint added"},
		{"items narrowed", `"items":{"type":"string"}`, `"items":{"type":"string","minLength":1}`, "/properties/tags/items/minLength", "constraint added"},
		{"additional properties closed", `"additionalProperties":true`, `"additionalProperties":false`, "/additionalProperties", "schema tightened"},
		{"format added", `"id":{"type":"string"}`, `"id":{"type":"string","format":"uuid"}`, "/properties/meta/properties/id/format", "constraint added"},
	}
	old := compile(t, base)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(base, c.from) {
				t.Fatalf("base lacks %q", c.from)
			}
			next := compile(t, strings.Replace(base, c.from, c.to, 1))
			got := Breaking(old, next)
			if c.pointer == "" {
				if len(got) != 0 {
					t.Fatalf("want compatible, got %v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Pointer != c.pointer || got[0].Kind != c.kind {
				t.Fatalf("got %v, want one %q at %s", got, c.kind, c.pointer)
			}
		})
	}
}

func TestBreakingFollowsRefs(t *testing.T) {
	old := compile(t, `{"$defs":{"m":{"type":"object","properties":{"a":{"type":"string"}}}},"properties":{"x":{"$ref":"#/$defs/m"}}}`)
	next := compile(t, `{"$defs":{"m":{"type":"object","properties":{"b":{"type":"string"}}}},"properties":{"x":{"$ref":"#/$defs/m"}}}`)
	got := Breaking(old, next)
	if len(got) != 1 || got[0].Field != "/x/a" || got[0].Kind != "property removed" {
		t.Fatalf("got %v", got)
	}
	// A recursive schema terminates.
	rec := `{"$defs":{"node":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}}}},"$ref":"#/$defs/node"}`
	if got := Breaking(compile(t, rec), compile(t, rec)); len(got) != 0 {
		t.Fatalf("recursive: %v", got)
	}
}
