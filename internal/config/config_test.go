package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	c, err := Parse([]byte(`
streams:
  wikimedia.recentchange:
    schema: schemas/rc.yaml
    key: [/wiki, /title]
    preview: [/title, /wiki, /user, /type]
    retention: {max_age: 168h, max_bytes: 10GiB}
  other:
    schema: s.json
    key: /k
    duplicate_window: 10m
    replicas: 3
`))
	if err != nil {
		t.Fatal(err)
	}
	rc := c.Streams["wikimedia.recentchange"]
	if rc.Retention.MaxBytes != 10<<30 || time.Duration(rc.Retention.MaxAge) != 168*time.Hour || len(rc.Key) != 2 {
		t.Fatalf("parsed %+v", rc)
	}
	if c.Data != DefaultData || c.Addr != DefaultAddr || c.Limits.MaxEventBytes != 1<<20 || c.Limits.MaxRequestBytes != 32<<20 {
		t.Fatalf("defaults: %+v", c)
	}
	if len(rc.Preview) != 4 || rc.Preview[3] != "/type" {
		t.Fatalf("preview: %v", rc.Preview)
	}
	inline := Stream{Schema: SchemaRef{Doc: map[string]any{"type": "object"}}, Preview: rc.Preview}
	if d, err := inline.Declared("s", ""); err != nil || len(d.Def.Preview) != 4 {
		t.Fatalf("declared preview: %+v %v", d.Def, err)
	}
	if o := c.Streams["other"]; len(o.Key) != 1 || o.Key[0] != "/k" || time.Duration(o.DuplicateWindow) != 10*time.Minute || o.Replicas != 3 {
		t.Fatalf("other: %+v", o)
	}
}

func TestErrorsNameThePath(t *testing.T) {
	cases := map[string]string{
		"streams:\n  a:\n    id: /x\n":                                               "streams.a.schema: required",
		"streams:\n  Bad:\n    schema: x\n":                                          "streams.Bad: stream names",
		"streams:\n  a:\n    schema: x\n    key: [wiki]\n":                           "streams.a.key[0]",
		"streams:\n  a:\n    schema: x\n    time: meta/dt\n":                         "streams.a.time",
		"streams:\n  a:\n    schema: x\n    retention: {max_bytes: lots}\n":          "size \"lots\"",
		"streams:\n  a:\n    schema: x\n    colour: red\n":                           "field colour not found",
		"nats:\n  url: nats://x\n  listen: 127.0.0.1:4222\n":                         "nats.listen",
		"limits:\n  max_event_bytes: 64MiB\n":                                        "limits.max_event_bytes",
		"streams:\n  s:\n    schema: x\n    replicas: 2\n":                           "streams.s.replicas: want 1, 3 or 5, got 2",
		"streams:\n  s:\n    schema: x\n    preview: [/a, /b, title]\n":              `streams.s.preview[2]: "title" is not a JSON pointer`,
		"streams:\n  s:\n    schema: x\n    preview: [/a, /a]\n":                     `streams.s.preview[1]: "/a" given twice`,
		"streams:\n  s:\n    schema: x\n    preview: [/a,/b,/c,/d,/e,/f,/g,/h,/i]\n": "streams.s.preview: at most 8 fields, got 9",
	}
	for doc, want := range cases {
		_, err := Parse([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to mention %q", doc, err, want)
		}
	}
}

func TestDeclaredLoadsSchemasRelativeToTheFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "schemas"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "schemas", "e.yaml"), []byte("type: object\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sluice.yaml"), []byte("streams:\n  e:\n    schema: schemas/e.yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(filepath.Join(dir, "sluice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Declared()
	if err != nil || len(d) != 1 || d[0].Def.Name != "e" || len(d[0].Schema.Resources) != 1 {
		t.Fatalf("declared %+v %v", d, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("streams:\n  a:\n    schema: x.yaml\n    key: [/a, /b]\n    retention: {max_age: 1h, max_bytes: 1GiB}\n"))
	f.Add([]byte("nats: {url: nats://127.0.0.1:4222, replicas: 3}\nlimits: {max_event_bytes: 1MiB}\n"))
	f.Add([]byte("data: ./d\naddr: 127.0.0.1:0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		// Whatever parses is valid and complete.
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed config fails validation: %v", err)
		}
		if c.Data == "" || c.Addr == "" || c.Limits.MaxEventBytes <= 0 {
			t.Fatalf("defaults missing: %+v", c)
		}
	})
}

func TestNATSStoreLimits(t *testing.T) {
	for doc, want := range map[string][2]int64{
		"":                                {0, 0},
		"nats: {max_store: 2GiB}\n":       {2 << 30, 0},
		"nats: {min_free_disk: 512MiB}\n": {0, 512 << 20},
		"nats: {min_free_disk: 0}\n":      {0, -1},
		"nats: {max_store: 1MiB, min_free_disk: 1}\n": {1 << 20, 1},
	} {
		c, err := Parse([]byte(doc))
		if err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		if ms, mf := c.NATS.StoreLimits(); ms != want[0] || mf != want[1] {
			t.Errorf("%q: max_store %d, min_free_disk %d; want %v", doc, ms, mf, want)
		}
	}
	for doc, msg := range map[string]string{
		"nats: {max_store: 1000}\n":                                "nats.max_store: at least 1MiB",
		"nats: {url: 'nats://127.0.0.1:4222', max_store: 1GiB}\n":  "nats.max_store: limits the embedded server",
		"nats: {url: 'nats://127.0.0.1:4222', min_free_disk: 0}\n": "nats.min_free_disk: is kept on the embedded",
		"nats: {min_free_disk: lots}\n":                            "size \"lots\"",
	} {
		if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: got %v, want an error with %q", doc, err, msg)
		}
	}
}
