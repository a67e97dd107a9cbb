package schema

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestDecodeEvent(t *testing.T) {
	for _, c := range []struct {
		in, ptr, rule string
	}{
		{`{"a":{"bot":"yes","bot":false}}`, "/a/bot", RuleDuplicateKey},
		{`{"a/b":[{"c~d":1,"c~d":2}]}`, "/a~1b/0/c~0d", RuleDuplicateKey},
		{`{"x":"a","\u0078":"b"}`, "/x", RuleDuplicateKey},
		{`{"n":1e999999}`, "/n", RuleNumber},
		{`{"n":[0,-1E-1001]}`, "/n/1", RuleNumber},
		{`{"n":1e00000000000000000000000000000000000000000000000001001}`, "/n", RuleNumber},
		{`{"n":` + strings.Repeat("1", 101) + `}`, "/n", RuleNumber},
		{`{"a":1} {}`, "", RuleJSON},
		{`{"a":`, "/a", RuleJSON},
		{`{"a":1,}`, "", RuleJSON},
		{`{"a":01}`, "", RuleJSON},
	} {
		_, err := DecodeEvent([]byte(c.in), DecodeLimits{})
		var de *DecodeError
		if !errors.As(err, &de) || de.Pointer != c.ptr || de.Rule != c.rule {
			t.Errorf("%.60s: %v, want %s at %q", c.in, err, c.rule, c.ptr)
		}
	}
	for _, ok := range []string{`{"n":1e1000,"m":-1.5E-1000,"i":` + strings.Repeat("9", 100) + `}`, `[]`, `"s"`, `null`, ` {"a":[{"a":1},{"a":2}]} `} {
		if _, err := DecodeEvent([]byte(ok), DecodeLimits{}); err != nil {
			t.Errorf("%.60s: %v", ok, err)
		}
	}
	if _, err := DecodeEvent([]byte(`{"n":12345}`), DecodeLimits{MaxNumberLength: 4}); err == nil {
		t.Error("the configured length is not applied")
	}
}

// FuzzDecodeEvent: where DecodeEvent accepts a document, it reads it as the
// validator's own decoder does; where it refuses one the validator's
// decoder takes, the reason is a duplicate key or a number over the limits.
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `{"n":1e999999}`, `[1,"x",null,true,{"b":[]}]`, `{"a":"\u00e9\ud83d\ude00"}`, `1.5e-3`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := DecodeEvent(raw, DecodeLimits{})
		want, werr := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		var de *DecodeError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("error of type %T: %v", err, err)
		}
		switch {
		case err == nil && werr != nil:
			t.Fatalf("accepted what the validator's decoder refuses (%v): %q", werr, raw)
		case err == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("read %#v, the validator's decoder %#v", got, want)
		case err != nil && werr == nil && de.Rule == RuleJSON && !bytes.ContainsAny(raw, "\x00\x7f\\") && validUTF8(raw):
			t.Fatalf("refused as not JSON what the validator's decoder reads: %v: %q", err, raw)
		}
	})
}

func validUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "") == string(b) }
