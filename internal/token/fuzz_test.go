package token

import (
	"strings"
	"testing"
)

// FuzzGrant: any grant text parses or is refused without a panic; a grant
// that parses covers itself, and a pattern matches the names it stands for.
func FuzzGrant(f *testing.F) {
	for _, s := range []string{"stream:wiki.*=read", "*=admin", "table:a*b*c=produce", "pipeline:=operate", "x", "stream:**=read"} {
		f.Add(s, "wiki.edits")
	}
	f.Fuzz(func(t *testing.T, s, name string) {
		g, err := ParseGrant(s)
		if err != nil {
			return
		}
		if !g.covers(g) {
			t.Fatalf("%s does not cover itself", g)
		}
		if g.Resource == All {
			return
		}
		_, pattern, _ := strings.Cut(g.Resource, ":")
		// The pattern's literal form (each * as nothing) is a name it matches.
		if lit := strings.ReplaceAll(pattern, "*", ""); !match(pattern, lit) {
			t.Fatalf("%q does not match %q", pattern, lit)
		}
		if match(pattern, name) && !strings.Contains(pattern, "*") && pattern != name {
			t.Fatalf("%q without a star matched %q", pattern, name)
		}
	})
}

// FuzzExpiry: any expiry parses to a positive duration or is refused.
func FuzzExpiry(f *testing.F) {
	for _, s := range []string{"720h", "30d", "1.5h", "-1h", "99999999999d", "0d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseExpiry(s)
		if err == nil && s != "" && d <= 0 {
			t.Fatalf("ParseExpiry(%q) = %v", s, d)
		}
	})
}
