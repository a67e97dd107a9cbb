package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/token"
)

// Access control (docs/ACCESS.md): with Options.Auth on, every request
// but the open ones (health, readiness, this document, signing in) names a
// token, by an Authorization: Bearer header or the UI's session cookie,
// and each route asks it for a grant (authrules.go). Without it, anyone
// who reaches the node may do anything, as before; sluice's own streams
// stay read-only either way.

// SessionCookie holds a browser session's token (HttpOnly, SameSite=Strict).
const SessionCookie = "sluice_session"

// CSRFHeader carries a browser session's CSRF value on every change.
const CSRFHeader = "X-Sluice-CSRF"

type callerKey struct{}

// caller is the request's token; nil with access control off.
func caller(r *http.Request) *token.Token {
	t, _ := r.Context().Value(callerKey{}).(*token.Token)
	return t
}

// credential is the token text a request presents, and whether it came
// from the session cookie.
func credential(r *http.Request) (text string, cookie bool, err error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, text, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(text) == "" {
			return "", false, unauthorized("the Authorization header must be `Bearer TOKEN`")
		}
		return strings.TrimSpace(text), false, nil
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		return c.Value, true, nil
	}
	return "", false, unauthorized("this node requires a token: send `Authorization: Bearer TOKEN` " +
		"(the CLI: --token or SLUICE_TOKEN; the UI: sign in); an admin makes tokens with `sluice token create`")
}

func unauthorized(detail string) *Problem {
	p := problem(http.StatusUnauthorized, "Unauthorized", detail)
	p.header = http.Header{"Www-Authenticate": {`Bearer realm="sluice"`}}
	p.Ext = map[string]any{"docs": "docs/ACCESS.md"}
	return p
}

// forbidden names the grant a token lacks.
func forbidden(t *token.Token, resource string, role token.Role) *Problem {
	p := problem(http.StatusForbidden, "Forbidden",
		fmt.Sprintf("the token %q (%s) has no grant of %s on %s", t.Name, t.ID, role, resource))
	p.Ext = map[string]any{"missing": token.Grant{Resource: resource, Role: role}, "token": t.ID}
	return p
}

// authenticate finds the request's token; a session cookie must come with
// its CSRF value on any change.
func (a *API) authenticate(r *http.Request) (*token.Token, error) {
	text, cookie, err := credential(r)
	if err != nil {
		return nil, err
	}
	t, err := a.opts.Tokens.Authenticate(r.Context(), text)
	switch {
	case errors.Is(err, token.ErrUnknown):
		return nil, unauthorized("the token is unknown or was revoked")
	case errors.Is(err, token.ErrExpired):
		return nil, unauthorized("the " + err.Error() + "; ask an admin for a new one")
	case err != nil:
		return nil, fmt.Errorf("checking the token: %w", err)
	}
	if cookie && !safeMethod(r.Method) && subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(token.CSRF(text))) != 1 {
		return nil, problem(http.StatusForbidden, "CSRF check failed",
			"a change made with the UI's session must carry its "+CSRFHeader+" header (the UI sends it; scripts send Authorization instead)")
	}
	return t, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// require answers nil if the request may act with role on kind:name: its
// token has the grant, or access control is off. sluice's own streams
// are read by admins and written by nobody.
func (a *API) require(r *http.Request, kind, name string, role token.Role) error {
	if kind == "stream" && audit.Reserved(name) {
		if role != token.Read {
			return problem(http.StatusForbidden, "Reserved stream",
				fmt.Sprintf("%s is sluice's own stream: only sluice writes it, and nobody changes or deletes it", name))
		}
		role = token.Admin
	}
	t := caller(r)
	if t == nil || t.Allows(kind, name, role) {
		return nil
	}
	return forbidden(t, kind+":"+name, role)
}

// requireAll answers nil if the request's token has role on every resource.
func (a *API) requireAll(r *http.Request, role token.Role) error {
	if t := caller(r); t != nil && !t.AllowsAll(role) {
		return forbidden(t, token.All, role)
	}
	return nil
}

// visible reports whether a list shows kind:name to the request's token.
func (a *API) visible(r *http.Request, kind, name string) bool {
	return a.require(r, kind, name, token.Read) == nil
}

// guarded is a route's handler behind its rule: the token found, then
// (recorded in the audit, auditlog.go) the rule checked and the handler run.
func (a *API) guarded(rt route, rl rule, h http.Handler) http.Handler {
	checked := a.audited(rt, rl, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rl.check != nil {
			if err := rl.check(a, r); err != nil {
				writeProblem(w, r, a.log, err)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.opts.Auth && !rl.open {
			t, err := a.authenticate(r)
			if err != nil {
				writeProblem(w, r, a.log, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), callerKey{}, t))
			if wantsSSE(r) { // a subscription lasts: it ends when its token is revoked or expires
				ctx, cancel := context.WithCancel(r.Context())
				defer cancel()
				go a.whileValid(ctx, r, cancel)
				r = r.WithContext(ctx)
			}
		}
		checked.ServeHTTP(w, r)
	})
}

// whileValid checks the request's token every token.Fresh and calls end
// once it is refused, until ctx ends.
func (a *API) whileValid(ctx context.Context, r *http.Request, end context.CancelFunc) {
	tick := time.NewTicker(token.Fresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			text, _, _ := credential(r)
			if _, err := a.opts.Tokens.Authenticate(ctx, text); errors.Is(err, token.ErrUnknown) || errors.Is(err, token.ErrExpired) {
				a.log.Info("a subscription ended: its token was revoked or expired", "path", r.URL.Path, "token", caller(r).ID)
				end()
				return
			}
		}
	}
}

// metrics is /metrics behind a grant of read on every resource.
func (a *API) metrics(h http.Handler) http.Handler {
	return a.guarded(route{id: "metrics"}, rule{check: func(a *API, r *http.Request) error { return a.requireAll(r, token.Read) }}, h)
}
