package config

import (
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/access"
)

// HTTP bounds the node's HTTP server and says which browsers' pages may
// use it beside the node's own (docs/HTTP.md).
type HTTP struct {
	// BodyTimeout bounds the reading of one request body (default 60s): a
	// slower body is answered 408. Long answers (SSE subscriptions) are not
	// concerned.
	BodyTimeout Duration `yaml:"body_timeout"`
	// HeaderTimeout bounds the reading of a request's headers (default 10s).
	HeaderTimeout Duration `yaml:"header_timeout"`
	// IdleTimeout closes a kept-alive connection idle this long (default 2m).
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds a request's headers (default 64KiB); larger ones get 431.
	MaxHeaderBytes Size `yaml:"max_header_bytes"`
	// Hosts are the names the node answers to beside localhost, IP
	// addresses and the host of addr: "sluice.example.org", "*.example.org".
	Hosts []string `yaml:"hosts"`
	// TrustedOrigins are the origins whose pages may change state (and read).
	TrustedOrigins []string `yaml:"trusted_origins"`
	// CORSOrigins are the origins whose pages may read the API; "*" for any.
	CORSOrigins []string `yaml:"cors_origins"`
	// TLS serves HTTPS instead of HTTP (tls.go).
	TLS TLS `yaml:"tls"`
}

// Defaults of the http section.
const (
	DefaultBodyTimeout    = 60 * time.Second // as httpapi.DefaultBodyTimeout
	DefaultHeaderTimeout  = 10 * time.Second
	DefaultIdleTimeout    = 2 * time.Minute
	DefaultMaxHeaderBytes = 64 << 10
)

func (h *HTTP) defaults() {
	if h.BodyTimeout == 0 {
		h.BodyTimeout = Duration(DefaultBodyTimeout)
	}
	if h.HeaderTimeout == 0 {
		h.HeaderTimeout = Duration(DefaultHeaderTimeout)
	}
	if h.IdleTimeout == 0 {
		h.IdleTimeout = Duration(DefaultIdleTimeout)
	}
	if h.MaxHeaderBytes == 0 {
		h.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
}

// WithDefaults is h with the defaults filled in, for a Config not made by
// Parse, Load or Default.
func (h HTTP) WithDefaults() HTTP {
	h.defaults()
	return h
}

func (h *HTTP) validate(add func(path, format string, args ...any)) {
	for _, d := range []struct {
		key string
		v   Duration
	}{{"body_timeout", h.BodyTimeout}, {"header_timeout", h.HeaderTimeout}, {"idle_timeout", h.IdleTimeout}} {
		if d.v < 0 {
			add("http."+d.key, "cannot be negative")
		}
	}
	if h.MaxHeaderBytes != 0 && (h.MaxHeaderBytes < 4<<10 || h.MaxHeaderBytes > 16<<20) {
		add("http.max_header_bytes", "want 4KiB to 16MiB, got %d", int64(h.MaxHeaderBytes))
	}
	if err := h.Access().Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			key, msg, _ := strings.Cut(line, ": ")
			add("http."+key, "%s", msg)
		}
	}
}

// Access is who may use the node beside its own pages.
func (h *HTTP) Access() access.Access {
	return access.Access{Hosts: h.Hosts, TrustedOrigins: h.TrustedOrigins, CORSOrigins: h.CORSOrigins}
}
