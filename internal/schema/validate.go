package schema

import (
	"errors"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Violation is one reason an event does not match its schema.
type Violation struct {
	Pointer string `json:"pointer"` // JSON pointer of the offending value in the event ("" is the whole event)
	Keyword string `json:"keyword"` // the schema rule, e.g. "type", "required", "maxLength"
	Message string `json:"message"` // e.g. "got string, want boolean"
}

var printer = message.NewPrinter(language.English)

// Validate checks a decoded event (as from DecodeEvent) and returns every
// violation, most specific first; nil when the event is valid.
func (s *Schema) Validate(v any) []Violation {
	err := s.compiled.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Violation{{Keyword: "schema", Message: err.Error()}}
	}
	var out []Violation
	collect(ve, &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	return out
}

// collect keeps the leaves of the error tree: they name the exact rule.
func collect(e *jsonschema.ValidationError, out *[]Violation) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collect(c, out)
		}
		return
	}
	kw := "schema"
	if p := e.ErrorKind.KeywordPath(); len(p) > 0 {
		kw = p[0]
	}
	// The library starts some messages with their keyword ("minimum: got 0,
	// want 1"); every caller prints the keyword before the message.
	msg := strings.TrimPrefix(e.ErrorKind.LocalizedString(printer), kw+": ")
	*out = append(*out, Violation{Pointer: Pointer(e.InstanceLocation), Keyword: kw, Message: msg})
}

// Pointer writes path tokens as a JSON pointer (RFC 6901).
func Pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}
