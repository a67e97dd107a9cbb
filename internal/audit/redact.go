package audit

import (
	"net/url"
	"strings"
)

// Redact is a change as the audit keeps it: the values of keys that name
// a secret (password, secret, token, authorization, credentials, key
// material) and the passwords in URLs (postgres://user:PASS@host) are
// replaced, so that reading the audit gives no one the node's secrets.
func Redact(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if secretKey(k) {
				if _, isString := e.(string); isString {
					out[k] = redacted
					continue
				}
			}
			out[k] = Redact(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Redact(e)
		}
		return out
	case string:
		if u, err := url.Parse(x); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), redacted)
				return u.String()
			}
		}
		return x
	}
	return v
}

const redacted = "[redacted]"

func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"password", "secret", "token", "authorization", "credential", "api_key", "apikey", "private_key"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}
