package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

// Rules of the event decoder, reported as a Violation's keyword.
const (
	RuleJSON         = "json"                 // not one JSON value
	RuleDuplicateKey = "sluice.duplicate_key" // an object names a member twice
	RuleNumber       = "sluice.number"        // a number too long, or too far from 1 in magnitude
)

// Bounds on numbers. The validator turns a number into a big.Rat for
// "integer", minimum, maximum, multipleOf and enum; for 1e999999 that is a
// million-digit integer and about 0.1 CPU-second, per number. Numbers are
// checked on their text, before anything converts them.
const (
	// DefaultMaxNumberLength is the longest number literal accepted by
	// default, in characters: a 128-bit integer has 39 digits.
	DefaultMaxNumberLength = 100
	// MaxExponent bounds a number's decimal exponent (as written, ±): float64
	// ends near 1e308 and 1e-324; big.Rat costs nothing at 1e±1000.
	MaxExponent = 1000
)

// DecodeLimits bound what DecodeEvent accepts.
type DecodeLimits struct {
	// MaxNumberLength is the longest number literal, in characters; 0 is DefaultMaxNumberLength.
	MaxNumberLength int
}

// DecodeError is an event that DecodeEvent refuses: where, by which rule, why.
type DecodeError struct {
	Pointer string // JSON pointer of the offending value ("" for the whole event)
	Rule    string // RuleJSON, RuleDuplicateKey or RuleNumber
	Message string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%s: %s: %s", orRoot(e.Pointer), e.Rule, e.Message)
}

// Violation is the error as a schema violation, the form produce answers with.
func (e *DecodeError) Violation() Violation {
	return Violation{Pointer: e.Pointer, Keyword: e.Rule, Message: e.Message}
}

// DecodeEvent reads one JSON value as Decode does (objects as
// map[string]any, numbers as json.Number), but strictly: an object that
// names a member twice is refused (the validator would see the last value
// while the stored text keeps both), and so is a number over the limits
// (before it is converted). Errors are *DecodeError.
func DecodeEvent(raw []byte, lim DecodeLimits) (any, error) {
	if lim.MaxNumberLength <= 0 {
		lim.MaxNumberLength = DefaultMaxNumberLength
	}
	// A bytes.Buffer is parsed in place, without copying into a buffer of the decoder.
	d := decoder{dec: jsontext.NewDecoder(bytes.NewBuffer(raw)), lim: lim}
	v, err := d.value()
	if err != nil {
		return nil, d.wrap(err)
	}
	if _, err := d.dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the end of the value")
		}
		return nil, &DecodeError{Rule: RuleJSON, Message: fmt.Sprintf("not valid JSON: %v (at byte %d)", unwrapSyntax(err), d.dec.InputOffset())}
	}
	return v, nil
}

type decoder struct {
	dec *jsontext.Decoder
	lim DecodeLimits
}

func (d *decoder) value() (any, error) {
	tok, err := d.dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case 'n':
		return nil, nil
	case 't', 'f':
		return tok.Bool(), nil
	case '"':
		return tok.String(), nil
	case '0':
		s := tok.String()
		if err := d.checkNumber(s); err != nil {
			return nil, err
		}
		return json.Number(s), nil
	case '{':
		obj := map[string]any{}
		for d.dec.PeekKind() != '}' {
			name, err := d.dec.ReadToken() // a duplicate name fails here, with its pointer
			if err != nil {
				return nil, err
			}
			k := name.String()
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			obj[k] = v
		}
		if _, err := d.dec.ReadToken(); err != nil {
			return nil, err
		}
		return obj, nil
	case '[':
		arr := []any{}
		for d.dec.PeekKind() != ']' {
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := d.dec.ReadToken(); err != nil {
			return nil, err
		}
		return arr, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// numberError is a number over the limits; wrap adds where it is.
type numberError struct{ msg string }

func (e *numberError) Error() string { return e.msg }

// checkNumber bounds a number's literal (valid JSON, as the decoder read it).
func (d *decoder) checkNumber(s string) error {
	if len(s) > d.lim.MaxNumberLength {
		return &numberError{fmt.Sprintf("a number of %d characters is over the limit of %d", len(s), d.lim.MaxNumberLength)}
	}
	i := bytes.IndexAny([]byte(s), "eE")
	if i < 0 {
		return nil
	}
	exp := 0
	for _, c := range s[i+1:] {
		if c >= '0' && c <= '9' {
			exp = exp*10 + int(c-'0')
			if exp > MaxExponent {
				return &numberError{fmt.Sprintf("the exponent of %.40s is beyond ±%d", s, MaxExponent)}
			}
		}
	}
	return nil
}

// wrap makes any decoding error a *DecodeError naming the value it is in.
func (d *decoder) wrap(err error) *DecodeError {
	ptr := string(d.dec.StackPointer())
	var ne *numberError
	if errors.As(err, &ne) {
		return &DecodeError{Pointer: ptr, Rule: RuleNumber, Message: ne.msg}
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		if errors.Is(se.Err, jsontext.ErrDuplicateName) {
			return &DecodeError{Pointer: string(se.JSONPointer), Rule: RuleDuplicateKey,
				Message: "the object already has a member of this name (the schema would check one value, the stored event keeps both)"}
		}
		return &DecodeError{Pointer: string(se.JSONPointer), Rule: RuleJSON,
			Message: fmt.Sprintf("not valid JSON: %v (at byte %d)", se.Err, se.ByteOffset)}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &DecodeError{Pointer: ptr, Rule: RuleJSON, Message: fmt.Sprintf("not valid JSON: unexpected end (at byte %d)", d.dec.InputOffset())}
	}
	return &DecodeError{Pointer: ptr, Rule: RuleJSON, Message: "not valid JSON: " + err.Error()}
}

func unwrapSyntax(err error) error {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}
