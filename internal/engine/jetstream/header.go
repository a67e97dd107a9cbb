package jetstream

import (
	"strings"
)

// NATS header values are not exact: the client trims spaces and tabs at
// both ends and turns CR and LF into spaces, so "w1" and "w1 " would be one
// Nats-Msg-Id (one merged as a duplicate of the other), "x\n" would be "x",
// and "  " would be no id at all. Every value the engine writes, the
// de-duplication id included, goes through escapeHeader, every value it
// reads through unescapeHeader, so ids compare and headers round-trip
// exactly.
//
// A value that survives the client as it is, and does not begin with "%",
// is written unchanged: that is every id and header sluice wrote before
// (ids of letters, digits and punctuation), so a node upgraded within a
// stream's duplicate window still drops an event sent again. Any other value
// becomes "%" and its bytes with '%', controls, space and DEL as %XX: no
// unchanged value begins with "%", so the two forms never collide.
func escapeHeader(v string) string {
	if headerSafe(v) {
		return v
	}
	var b strings.Builder
	b.Grow(len(v) + 8)
	b.WriteByte('%')
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c == 0x7f || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

const hexDigits = "0123456789ABCDEF"

// headerSafe reports whether the NATS client keeps v as it is.
func headerSafe(v string) bool {
	if v == "" || v[0] == '%' || v[0] == ' ' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// unescapeHeader reverses escapeHeader. A value that is not of the escaped
// form (written by another client, or before escaping) is returned as it is.
func unescapeHeader(v string) string {
	if len(v) == 0 || v[0] != '%' {
		return v
	}
	out := make([]byte, 0, len(v))
	for i := 1; i < len(v); i++ {
		c := v[i]
		if c != '%' {
			out = append(out, c)
			continue
		}
		if i+2 >= len(v) {
			return v
		}
		hi, ok1 := unhex(v[i+1])
		lo, ok2 := unhex(v[i+2])
		if !ok1 || !ok2 {
			return v
		}
		out = append(out, hi<<4|lo)
		i += 2
	}
	return string(out)
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
