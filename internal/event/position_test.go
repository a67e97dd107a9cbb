package event

import (
	"errors"
	"testing"
	"time"
)

func TestParsePosition(t *testing.T) {
	ts := time.Date(2023, 7, 29, 7, 51, 39, 0, time.UTC)
	cases := []struct {
		in   string
		want Position
	}{
		{"earliest", Position{Kind: Earliest}},
		{" LATEST ", Position{Kind: Latest}},
		{"1", Position{Kind: Sequence, Seq: 1}},
		{"99999999999", Position{Kind: Sequence, Seq: 99999999999}},
		{"1690617099000", Position{Kind: Time, Time: ts}},
		{"2023-07-29T07:51:39Z", Position{Kind: Time, Time: ts}},
		{"2023-07-29T09:51:39+02:00", Position{Kind: Time, Time: ts}},
		{"2023-07-29T07:51:39.5Z", Position{Kind: Time, Time: ts.Add(500 * time.Millisecond)}},
	}
	for _, c := range cases {
		got, err := ParsePosition(c.in)
		if err != nil {
			t.Errorf("ParsePosition(%q): %v", c.in, err)
			continue
		}
		if got.Kind != c.want.Kind || got.Seq != c.want.Seq || !got.Time.Equal(c.want.Time) {
			t.Errorf("ParsePosition(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "yesterday", "2023-07-29", "18446744073709551616", "999999999999999999"} {
		if _, err := ParsePosition(bad); !errors.Is(err, ErrBadPosition) {
			t.Errorf("ParsePosition(%q) error = %v, want ErrBadPosition", bad, err)
		}
	}
}

func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"earliest", "latest", "1", "42", "1690617099000", "2023-07-29T07:51:39Z", "2023-07-29T07:51:39.123456+02:00", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePosition(s)
		if err != nil {
			if !errors.Is(err, ErrBadPosition) {
				t.Fatalf("error %v does not wrap ErrBadPosition", err)
			}
			return
		}
		// Every parsed position writes back to a string that parses to the same position.
		again, err := ParsePosition(p.String())
		if err != nil {
			t.Fatalf("ParsePosition(%q) -> %q does not parse: %v", s, p.String(), err)
		}
		if again.Kind != p.Kind || again.Seq != p.Seq || !again.Time.Equal(p.Time) {
			t.Fatalf("round trip %q: %+v != %+v", s, again, p)
		}
	})
}
