package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Token is a stored token: everything but its text, of which only a hash
// is kept.
type Token struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Grants    []Grant    `json:"grants"`
	Created   time.Time  `json:"created"`
	CreatedBy string     `json:"created_by,omitempty"`
	Expires   *time.Time `json:"expires,omitempty"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
	// Hash is the SHA-256 of the token's text, hex. A token is 256 random
	// bits, so a fast hash is enough: there is nothing to guess from it.
	Hash string `json:"hash,omitempty"`
}

// Allows reports whether the token gives role on kind:name.
func (t *Token) Allows(kind, name string, role Role) bool {
	for _, g := range t.Grants {
		if g.allows(kind, name, role) {
			return true
		}
	}
	return false
}

// AllowsAll reports whether the token gives role on every resource (a
// grant on *): what /metrics and the node-wide views need.
func (t *Token) AllowsAll(role Role) bool {
	for _, g := range t.Grants {
		if g.Resource == All && g.Role.Includes(role) {
			return true
		}
	}
	return false
}

// AllowsAny reports whether the token gives role on some resource.
func (t *Token) AllowsAny(role Role) bool {
	for _, g := range t.Grants {
		if g.Role.Includes(role) {
			return true
		}
	}
	return false
}

// Covers reports whether the token gives at least what g gives: a token
// may only make tokens that can do no more than it can.
func (t *Token) Covers(g Grant) bool {
	for _, mine := range t.Grants {
		if mine.covers(g) {
			return true
		}
	}
	return false
}

// Expired reports whether the token has expired at now.
func (t *Token) Expired(now time.Time) bool { return t.Expires != nil && !now.Before(*t.Expires) }

// Public is the token as GET /v1/tokens shows it: without its hash.
func (t Token) Public() Token {
	t.Hash = ""
	return t
}

// Prefix starts the text of every token sluice makes, so that secret
// scanners and people can tell one.
const Prefix = "sluice_"

// newSecret makes a token's id and text: sluice_<id>_<secret>, the id 16
// base32 characters (80 bits, a key of the bucket), the secret 256 bits.
func newSecret() (id, text string) {
	var b [42]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	id = strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:10]))
	return id, Prefix + id + "_" + base64.RawURLEncoding.EncodeToString(b[10:])
}

// idOf is the id a token's text names, or "" for a text sluice did not
// make (the bootstrap token set by SLUICE_ADMIN_TOKEN, or a forgery).
func idOf(text string) string {
	rest, ok := strings.CutPrefix(text, Prefix)
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 16 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		return "" // not an id newSecret makes (lower-case base32): not a key to ask the bucket for
	}
	return id
}

func hashOf(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// matches compares in constant time, so that timing tells nothing of the hash.
func (t *Token) matches(hash string) bool {
	return subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hash)) == 1
}

// CSRF is the value a browser session must send with every change
// (X-Sluice-CSRF): derived from the token's hash, so any node computes it
// and no page of another origin can know it.
func CSRF(text string) string {
	sum := sha256.Sum256([]byte("sluice csrf\x00" + hashOf(text)))
	return base64.RawURLEncoding.EncodeToString(sum[:18])
}

// ParseExpiry reads an expiry: a Go duration ("720h", "90m") or days ("30d").
func ParseExpiry(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && n > 0 && n <= 36500 && fmt.Sprint(n) == days {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("expires %q: want a positive duration such as 720h or 30d (at most 36500d)", s)
	}
	return d, nil
}
