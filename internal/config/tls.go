package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// TLS makes the node serve HTTPS on addr instead of HTTP (docs/ACCESS.md,
// TLS). Paths are relative to the config file's folder. The node reads
// the files again when they change (internal/node/tls.go); config only
// checks them once.
type TLS struct {
	// Cert is a PEM file: the node's certificate, then its chain.
	Cert string `yaml:"cert,omitempty"`
	// Key is the PEM file of the certificate's private key.
	Key string `yaml:"key,omitempty"`
	// CA is a PEM file of roots trusted for the other nodes' certificates,
	// beside the system's and the certificates in Cert (optional: nodes
	// that share a certificate, or its issuer, need none).
	CA string `yaml:"ca,omitempty"`
}

// Enabled reports whether the node serves HTTPS.
func (t TLS) Enabled() bool { return t.Cert != "" && t.Key != "" }

// TLS is the http.tls section with its paths made absolute (against Dir).
func (c *Config) TLS() TLS {
	t := c.HTTP.TLS
	t.Cert, t.Key, t.CA = abs(c.Dir(), t.Cert), abs(c.Dir(), t.Key), abs(c.Dir(), t.CA)
	return t
}

// validateTLS checks that cert and key come together and load as a key
// pair, and that ca holds certificates: a node that would fail its first
// handshake is better refused at start.
func (c *Config) validateTLS(add func(path, format string, args ...any)) {
	t, raw := c.TLS(), c.HTTP.TLS
	switch {
	case raw.Cert == "" && raw.Key == "":
		if raw.CA != "" {
			add("http.tls.ca", "set with http.tls.cert and http.tls.key (the other nodes are reached over https only by a node that serves it)")
		}
		return
	case raw.Key == "":
		add("http.tls.key", "set with http.tls.cert")
		return
	case raw.Cert == "":
		add("http.tls.cert", "set with http.tls.key")
		return
	}
	ok := true
	for _, f := range []struct{ key, path string }{{"cert", t.Cert}, {"key", t.Key}} {
		if _, err := os.Stat(f.path); err != nil {
			add("http.tls."+f.key, "%v", err)
			ok = false
		}
	}
	if ok {
		if _, err := tls.LoadX509KeyPair(t.Cert, t.Key); err != nil {
			add("http.tls", "%s and %s do not load as a key pair: %v", t.Cert, t.Key, err)
		}
	}
	if t.CA != "" {
		if _, err := LoadRoots(t.CA); err != nil {
			add("http.tls.ca", "%v", err)
		}
	}
}

// LoadRoots reads a PEM file of trusted roots (http.tls.ca, the CLI's --ca).
func LoadRoots(path string) ([]*x509.Certificate, error) {
	rest, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return out, nil
}
