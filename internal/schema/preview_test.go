package schema

import (
	"reflect"
	"testing"
)

func TestDefaultPreview(t *testing.T) {
	if got, want := DefaultPreview(mustLoad(t, recentchange)), []string{"/title", "/wiki", "/user", "/type"}; !reflect.DeepEqual(got, want) {
		t.Errorf("recentchange: %q, want %q", got, want)
	}
	cases := []struct{ name, doc string }{
		// required before the rest, ids after, objects and arrays never
		{"/status /amount /order /created", `{"type":"object","required":["order","amount","id"],"properties":{
			"id":{"type":"string"},"order":{"type":"string"},"amount":{"type":"number"},"created":{"type":"string"},
			"status":{"type":"string"},"tags":{"type":"array"},"meta":{"type":"object"},"customer_id":{"type":"string"}}}`},
		// id alone is better than nothing; null besides a scalar is fine
		{"/id", `{"properties":{"id":{"type":["integer","null"]},"meta":{"type":"object"},"comment":{"type":"string"}}}`},
		// $ref followed, at the root and in a property
		{"/name /n", `{"$ref":"#/$defs/e","$defs":{"e":{"properties":{"n":{"$ref":"#/$defs/int"},"name":{"type":"string"}}},"int":{"type":"integer"}}}`},
		{"", `{"type":"object"}`},
		{"", `true`},
	}
	for _, c := range cases {
		got := ""
		for i, p := range DefaultPreview(compile(t, c.doc)) {
			if i > 0 {
				got += " "
			}
			got += p
		}
		if got != c.name {
			t.Errorf("%s: %q, want %q", c.doc, got, c.name)
		}
	}
}
