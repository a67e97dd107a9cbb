package mediawiki

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// namespaces maps the lower-case names (and aliases) of the namespaces the
// simulator knows to their canonical name and number. Any other prefix is
// part of a main-namespace title.
var namespaces = map[string]struct {
	name string
	ns   int
}{
	"talk":      {"Talk", 1},
	"user":      {"User", 2},
	"user talk": {"User talk", 3},
	"wikipedia": {"Wikipedia", 4},
	"project":   {"Wikipedia", 4},
	"file":      {"File", 6},
	"image":     {"File", 6},
	"file talk": {"File talk", 7},
	"mediawiki": {"MediaWiki", 8},
	"template":  {"Template", 10},
	"help":      {"Help", 12},
	"category":  {"Category", 14},
	"portal":    {"Portal", 100},
	"draft":     {"Draft", 118},
}

// Messages of the real API for invalid titles.
const (
	reasonEmpty = "The requested page title is empty or contains only the name of a namespace."
	reasonChars = "The requested page title contains invalid characters: \"%s\"."
)

// NormalizeTitle returns title as MediaWiki normalizes it on a wiki whose
// titles start with a capital: underscores become spaces, runs of spaces
// collapse, surrounding spaces and a #fragment go, known namespace names take
// their canonical form (image: becomes File:) and the first letter after the
// namespace is upper-cased. An invalid title is returned as given.
func NormalizeTitle(title string) string {
	t, _, err := normalize(title)
	if err != "" {
		return title
	}
	return t
}

// normalize returns the normalized title and its namespace, or the reason
// (the real API's message, with %s for the bad character) it is invalid.
func normalize(raw string) (title string, ns int, invalid string) {
	t := raw
	if i := strings.IndexByte(t, '#'); i >= 0 {
		t = t[:i]
	}
	if i := strings.IndexFunc(t, badRune); i >= 0 {
		r, _ := utf8.DecodeRuneInString(t[i:])
		return "", 0, strings.Replace(reasonChars, "%s", string(r), 1)
	}
	t = spaces(t)
	if pre, rest, ok := strings.Cut(t, ":"); ok {
		if n, known := namespaces[strings.ToLower(spaces(pre))]; known {
			rest = spaces(rest)
			if rest == "" {
				return "", 0, reasonEmpty
			}
			return n.name + ":" + upperFirst(rest), n.ns, ""
		}
	}
	if t == "" {
		return "", 0, reasonEmpty
	}
	return upperFirst(t), 0, ""
}

// badRune reports characters that may not appear in a title.
func badRune(r rune) bool {
	return strings.ContainsRune("<>[]{}|", r) || r < 0x20 || r == 0x7f || r == utf8.RuneError
}

// spaces turns underscores into spaces, collapses runs and trims.
func spaces(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "_", " ")), " ")
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
