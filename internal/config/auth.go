package config

// Auth is the node's access control (docs/ACCESS.md).
type Auth struct {
	// Enabled makes every request but /healthz, /readyz, /openapi.json
	// and signing in present a token (package token). Off by default; a
	// node that listens beyond loopback without it warns at start.
	Enabled bool `yaml:"enabled"`
}
