// Package token is sluice's access control: bearer tokens, each with a
// name, grants and an expiry, stored hashed in an engine key/value bucket
// every node shares (docs/ACCESS.md). A grant gives a role on resources
// named by kind and a name pattern ("stream:wiki.*"); the HTTP API asks
// the token of each request whether it allows the operation.
package token

import (
	"fmt"
	"slices"
	"strings"
)

// Role is what a grant allows on its resources. Every role includes read;
// admin includes every role.
type Role string

// The roles, from least to most.
const (
	Read    Role = "read"    // read, subscribe, look up, status
	Produce Role = "produce" // read, and write events (a pipeline's outputs)
	Invoke  Role = "invoke"  // read, and call a function
	Operate Role = "operate" // read, and pause, resume, reset, redrive, rebuild
	Admin   Role = "admin"   // everything: create, change, delete, schemas, tokens
)

// Roles are the roles in the order they are listed.
var Roles = []Role{Read, Produce, Invoke, Operate, Admin}

// Includes reports whether a grant of role r allows what o allows.
func (r Role) Includes(o Role) bool {
	return r == o || r == Admin || o == Read && slices.Contains(Roles, r)
}

// Kinds are the kinds of resources a grant names.
var Kinds = []string{"stream", "pipeline", "table", "function", "source"}

// All is the resource that names every resource of every kind.
const All = "*"

// Grant gives a role on the resources its pattern matches.
type Grant struct {
	// Resource is KIND:PATTERN, where * in the pattern matches any run of
	// characters ("stream:wiki.*", "table:*"), or * for every resource.
	Resource string `json:"resource"`
	Role     Role   `json:"role"`
}

func (g Grant) String() string { return g.Resource + "=" + string(g.Role) }

// ParseGrant reads RESOURCE=ROLE, the form of the CLI's --grant.
func ParseGrant(s string) (Grant, error) {
	res, role, ok := strings.Cut(s, "=")
	if !ok {
		return Grant{}, fmt.Errorf("grant %q: want RESOURCE=ROLE, e.g. stream:wiki.*=read", s)
	}
	g := Grant{Resource: res, Role: Role(role)}
	return g, g.Validate()
}

// Validate names what is wrong with a grant.
func (g Grant) Validate() error {
	if !slices.Contains(Roles, g.Role) {
		return fmt.Errorf("role %q: want one of read, produce, invoke, operate, admin", g.Role)
	}
	if g.Resource == All {
		return nil
	}
	kind, pattern, ok := strings.Cut(g.Resource, ":")
	if !ok || !slices.Contains(Kinds, kind) {
		return fmt.Errorf("resource %q: want KIND:NAME with KIND one of %s (or * for everything)", g.Resource, strings.Join(Kinds, ", "))
	}
	if pattern == "" || len(pattern) > 200 {
		return fmt.Errorf("resource %q: the name after %s: is empty or over 200 characters", g.Resource, kind)
	}
	for _, c := range pattern {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("._-*", c)) {
			return fmt.Errorf("resource %q: %q cannot be in a name (names use a-z 0-9 . _ -; * matches any run of them)", g.Resource, c)
		}
	}
	return nil
}

// allows reports whether the grant gives role on the resource kind:name.
func (g Grant) allows(kind, name string, role Role) bool {
	if !g.Role.Includes(role) {
		return false
	}
	if g.Resource == All {
		return true
	}
	k, pattern, _ := strings.Cut(g.Resource, ":")
	return k == kind && match(pattern, name)
}

// covers reports whether g gives at least what o gives: its role includes
// o's and every resource o names, g names too. A pattern covers another
// when it matches it read as a name (its * taken for a character): a *
// of o can then only stand where g has one.
func (g Grant) covers(o Grant) bool {
	if !g.Role.Includes(o.Role) {
		return false
	}
	if g.Resource == All {
		return true
	}
	if o.Resource == All {
		return false
	}
	k, pattern, _ := strings.Cut(g.Resource, ":")
	ok, opattern, _ := strings.Cut(o.Resource, ":")
	return k == ok && match(pattern, opattern)
}

// match reports whether name matches pattern, whose * matches any run of
// characters (dots too). It runs in O(len(pattern) * len(name)).
func match(pattern, name string) bool {
	// The classic greedy matcher with one backtrack point: at a *, first
	// match it empty, and on a mismatch let the last * take one more byte.
	p, n, star, mark := 0, 0, -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			mark++
			p, n = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
