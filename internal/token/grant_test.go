package token

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"wiki.*", "wiki.edits", true}, {"wiki.*", "wiki.", true}, {"wiki.*", "wiki", false},
		{"*", "anything.at.all", true}, {"*.errors", "p.errors", true}, {"*.errors", "p.errors.x", false},
		{"a*b*c", "abc", true}, {"a*b*c", "axxbyyc", true}, {"a*b*c", "axxbyy", false},
		{"exact", "exact", true}, {"exact", "exactly", false}, {"**", "", true}, {"a*", "", false},
	} {
		if got := match(c.pattern, c.name); got != c.want {
			t.Errorf("match(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
	// Linear, not exponential, in the stars: this returns at once.
	if match(strings.Repeat("a*", 100)+"b", strings.Repeat("a", 10000)) {
		t.Error("a pattern ending in b matched a name without one")
	}
}

func TestRoles(t *testing.T) {
	for _, r := range Roles {
		if !r.Includes(Read) || !Admin.Includes(r) || !r.Includes(r) {
			t.Errorf("%s: every role includes read and itself, admin includes it", r)
		}
	}
	for _, c := range [][2]Role{{Read, Produce}, {Produce, Invoke}, {Invoke, Operate}, {Operate, Admin}, {Operate, Produce}} {
		if c[0].Includes(c[1]) {
			t.Errorf("%s includes %s", c[0], c[1])
		}
	}
	if Role("root").Includes(Read) {
		t.Error("an unknown role includes read")
	}
}

func TestGrants(t *testing.T) {
	tok := &Token{Grants: []Grant{{"stream:wiki.*", Read}, {"pipeline:team-a.*", Admin}}}
	for _, c := range []struct {
		kind, name string
		role       Role
		want       bool
	}{
		{"stream", "wiki.edits", Read, true}, {"stream", "wiki.edits", Produce, false}, {"table", "wiki.edits", Read, false},
		{"pipeline", "team-a.x", Operate, true}, {"pipeline", "team-b.x", Read, false},
	} {
		if got := tok.Allows(c.kind, c.name, c.role); got != c.want {
			t.Errorf("Allows(%s:%s, %s) = %v", c.kind, c.name, c.role, got)
		}
	}
	if tok.AllowsAll(Read) || !(&Token{Grants: []Grant{{All, Read}}}).AllowsAll(Read) {
		t.Error("AllowsAll wants a grant on *")
	}
	for _, c := range []struct {
		g    Grant
		want bool
	}{
		{Grant{"stream:wiki.edits", Read}, true}, {Grant{"stream:wiki.e*", Read}, true}, {Grant{"stream:*", Read}, false},
		{Grant{"stream:wiki.*", Produce}, false}, {Grant{"pipeline:team-a.*", Operate}, true}, {Grant{All, Read}, false},
	} {
		if got := tok.Covers(c.g); got != c.want {
			t.Errorf("Covers(%s) = %v", c.g, got)
		}
	}
}

func TestParseGrant(t *testing.T) {
	if g, err := ParseGrant("stream:wiki.*=read"); err != nil || g != (Grant{"stream:wiki.*", Read}) {
		t.Fatalf("%v %v", g, err)
	}
	for in, want := range map[string]string{
		"stream:wiki":        "want RESOURCE=ROLE",
		"stream:wiki=root":   `role "root"`,
		"streams:wiki=read":  "want KIND:NAME",
		"stream:=read":       "is empty",
		"stream:Wiki=read":   `'W' cannot be in a name`,
		"stream:a>b=read":    `'>' cannot be in a name`,
		"*=admin":            "",
		"function:jq=invoke": "",
	} {
		_, err := ParseGrant(in)
		if (err == nil) != (want == "") || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("ParseGrant(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	for in, want := range map[string]string{"720h": "720h0m0s", "30d": "720h0m0s", "": "0s"} {
		d, err := ParseExpiry(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseExpiry(%q) = %v %v", in, d, err)
		}
	}
	for _, in := range []string{"-1h", "0", "1x", "d", "1.5d", "99999999999d", "36501d"} {
		if _, err := ParseExpiry(in); err == nil {
			t.Errorf("ParseExpiry(%q) accepted", in)
		}
	}
}
