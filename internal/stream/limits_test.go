package stream

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/schema"
)

// TestInvalidIsBounded: however much is wrong with one event, its
// description is at most maxViolations lines of bounded text.
func TestInvalidIsBounded(t *testing.T) {
	var vs []schema.Violation
	for range 1000 {
		vs = append(vs, schema.Violation{Pointer: "/" + strings.Repeat("é", 10000), Keyword: "type", Message: strings.Repeat("x", 10000)})
	}
	inv := newInvalid(7, vs)
	if inv.Index != 7 || len(inv.Errors) != maxViolations || inv.OmittedErrors != 1000-maxViolations {
		t.Fatalf("%d errors listed, %d omitted", len(inv.Errors), inv.OmittedErrors)
	}
	for _, v := range inv.Errors {
		if len(v.Pointer) > maxViolationText || len(v.Message) > maxViolationText || !utf8.ValidString(v.Pointer) ||
			!strings.HasSuffix(v.Message, "…") {
			t.Fatalf("not clipped: %d %d bytes", len(v.Pointer), len(v.Message))
		}
	}
	if vs[0].Message != strings.Repeat("x", 10000) {
		t.Fatal("the caller's violations were changed")
	}
	short := newInvalid(0, []schema.Violation{{Pointer: "/a", Keyword: "type", Message: "got string, want boolean"}})
	if short.OmittedErrors != 0 || short.Errors[0].Message != "got string, want boolean" {
		t.Fatalf("%+v", short)
	}
}
