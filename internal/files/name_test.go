package files

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/event"
)

func TestPartition(t *testing.T) {
	e := event.Event{Seq: 42, ID: "a/b", Key: "enwiki/Douglas Adams", Time: time.Date(2026, 11, 27, 9, 5, 0, 0, time.FixedZone("x", 3600)),
		Data: []byte(`{"wiki":"enwiki","page":{"id":7},"bad":"../../etc","n":null}`)}
	for _, c := range []struct{ tmpl, want string }{
		{``, ``},
		{`{{.EventTime.Format "2006/01/02/15"}}`, `2026/11/27/08`}, // UTC
		{`wiki={{.Get "/wiki"}}/dt={{.EventTime.Format "2006-01-02"}}`, `wiki=enwiki/dt=2026-11-27`},
		{`{{.Get "/page/id"}}`, `7`},
		{`{{.Get "/bad"}}`, `_/_/etc`},
		{`{{.Get "/missing"}}x/{{.Get "/n"}}`, `x`},
		{`{{.Stream}}/{{.Key}}`, `out/enwiki/Douglas_Adams`},
		{`{{.Seq}}-{{.ID}}`, `42-a/b`},
		{`//a///b/`, `a/b`},
		{`{{.Get "/page"}}`, ``},
	} {
		p, err := ParsePartition(c.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", c.tmpl, err)
		}
		if got := p.Render("out", e); got != c.want {
			t.Errorf("%s: got %q, want %q", c.tmpl, got, c.want)
		}
	}
	for _, bad := range []string{`{{.Nope}}`, `{{.EventTime.Nope}}`, `{{`, `{{.Get}}`} {
		if _, err := ParsePartition(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	// fine on the example event, fails on this one
	p, err := ParsePartition(`{{if .Key}}{{index .Key 99}}{{end}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Render("out", e); got != Invalid {
		t.Errorf("failing template: %q", got)
	}
	if got := Clean(strings.Repeat("a", 600)); len(got) != maxPartition {
		t.Errorf("length %d", len(got))
	}
}

func TestNames(t *testing.T) {
	k := Key("2026/11/27", 1, 18446744073709551615, NDJSONGzip)
	if k != "2026/11/27/00000000000000000001-18446744073709551615.ndjson.gz" {
		t.Fatal(k)
	}
	if first, last, f, ok := ParseName(k[len("2026/11/27/"):]); !ok || first != 1 || last != 18446744073709551615 || f != NDJSONGzip {
		t.Fatal(first, last, f, ok)
	}
	for _, bad := range []string{
		"00000000000000000001-00000000000000000002.ndjson.1a2b.tmp", // fileblob's temporary file
		"00000000000000000002-00000000000000000001.ndjson",          // backwards
		"00000000000000000000-00000000000000000001.ndjson",          // sequence 0
		"0000000000000000000x-00000000000000000001.ndjson",
		"+0000000000000000001-00000000000000000001.ndjson",
		"00000000000000000001-00000000000000000001.csv",
		"1-2.ndjson",
	} {
		if _, _, _, ok := ParseName(bad); ok {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// FuzzParseName: a name is accepted only if Key gives it back.
func FuzzParseName(f *testing.F) {
	f.Add("00000000000000000001-00000000000000000002.ndjson")
	f.Add("00000000000000000001-00000000000000000002.parquet.tmp")
	f.Fuzz(func(t *testing.T, name string) {
		first, last, format, ok := ParseName(name)
		if ok && Key("", first, last, format) != name {
			t.Fatalf("%q parsed as %d-%d %s", name, first, last, format)
		}
	})
}

// FuzzClean: a cleaned partition is a safe relative folder, and cleaning
// it again changes nothing.
func FuzzClean(f *testing.F) {
	f.Add("2026/11/27/10")
	f.Add("../../etc/passwd")
	f.Add("a//b/./c/ü")
	f.Fuzz(func(t *testing.T, text string) {
		c := Clean(text)
		if Clean(c) != c || len(c) > maxPartition {
			t.Fatalf("%q -> %q", text, c)
		}
		if c == "" {
			return
		}
		for seg := range strings.SplitSeq(c, "/") {
			if seg == "" || seg == "." || seg == ".." || strings.Trim(seg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._=-") != "" {
				t.Fatalf("%q -> %q: segment %q", text, c, seg)
			}
		}
	})
}
