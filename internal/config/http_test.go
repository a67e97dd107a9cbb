package config

import (
	"strings"
	"testing"
	"time"
)

func TestHTTPSection(t *testing.T) {
	c, err := Parse([]byte("http:\n  body_timeout: 5s\n  hosts: [sluice.example.org, \"*.corp.example\"]\n" +
		"  trusted_origins: [\"https://admin.example.org\"]\n  cors_origins: [\"*\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := c.HTTP
	if time.Duration(h.BodyTimeout) != 5*time.Second || time.Duration(h.HeaderTimeout) != DefaultHeaderTimeout ||
		time.Duration(h.IdleTimeout) != DefaultIdleTimeout || h.MaxHeaderBytes != DefaultMaxHeaderBytes || len(h.Hosts) != 2 {
		t.Fatalf("%+v", h)
	}
	if d := Default().HTTP; time.Duration(d.BodyTimeout) != 60*time.Second {
		t.Fatalf("default body timeout %v", d.BodyTimeout)
	}
	if w := (HTTP{}).WithDefaults(); w.HeaderTimeout == 0 || w.MaxHeaderBytes == 0 {
		t.Fatalf("WithDefaults: %+v", w)
	}
	_, err = Parse([]byte("http:\n  body_timeout: -1s\n  max_header_bytes: 100\n  hosts: [\"x.org:80\"]\n" +
		"  trusted_origins: [\"*\"]\n  cors_origins: [\"https://x.org/path\"]\n"))
	for _, want := range []string{"http.body_timeout: cannot be negative", "http.max_header_bytes: want 4KiB", "http.hosts[0]:",
		`http.trusted_origins[0]: "*" would let any web page change state`, "http.cors_origins[0]:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}
