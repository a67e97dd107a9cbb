package jetstream

import (
	"strings"
	"testing"
)

// FuzzHeader: every value comes back exactly, the written form is one the
// NATS client keeps as it is, and a value that needs no escaping is
// written unchanged (ids stored before escaping keep de-duplicating).
func FuzzHeader(f *testing.F) {
	for _, s := range []string{"w1", "w1 ", "x\n", "  ", "%", "%41", "a b", "é", "\x00", "\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		w := escapeHeader(v)
		if got := unescapeHeader(w); got != v {
			t.Fatalf("%q written as %q reads back as %q", v, w, got)
		}
		if v != "" && (strings.ContainsFunc(w, func(r rune) bool { return r < ' ' || r == 0x7f }) || strings.Trim(w, " \t") != w) {
			t.Fatalf("%q written as %q, which the client would change", v, w)
		}
		if headerSafe(v) && w != v {
			t.Fatalf("%q needs no escaping but was written as %q", v, w)
		}
	})
}
