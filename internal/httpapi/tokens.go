package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/token"
)

// TokenRequest is a token to make (POST /v1/tokens).
type TokenRequest struct {
	Name   string        `json:"name"`
	Grants []token.Grant `json:"grants"`
	// Expires is a duration from now ("720h", "30d"); empty: never.
	Expires string `json:"expires,omitempty"`
}

// NewToken answers POST /v1/tokens: the token, and its text, shown this once.
type NewToken struct {
	token.Token
	Text string `json:"token"`
}

// TokenList answers GET /v1/tokens.
type TokenList struct {
	Tokens []token.Token `json:"tokens"`
}

// Session answers the session routes: whether access control is on, the
// token in use, and for a browser session the CSRF value its changes send.
type Session struct {
	Enabled bool         `json:"enabled"`
	Token   *token.Token `json:"token,omitempty"`
	CSRF    string       `json:"csrf,omitempty"`
	// May says which of the node-wide pages the token may use: tokens (it
	// has an admin grant) and audit (it may read sluice.audit).
	May map[string]bool `json:"may,omitempty"`
}

// may is Session.May for the request's token (everything with access
// control off).
func (a *API) may(r *http.Request) map[string]bool {
	t := caller(r)
	return map[string]bool{"tokens": t == nil || t.AllowsAny(token.Admin), "audit": a.visible(r, "stream", audit.Stream)}
}

func (a *API) tokenRoutes() []route {
	tokenID := param{name: "id", in: "path", desc: "token id", typ: "string", required: true}
	return []route{
		{method: "POST", path: "/v1/tokens", id: "createToken", tag: "access",
			summary: "Make a token: its text is answered this once and stored nowhere (only its hash). A token can only give grants it has",
			body: &body{desc: "name, grants, expiry", types: []string{"application/json"}, schema: "TokenRequest",
				example: `{"name":"reader","grants":[{"resource":"stream:wiki.*","role":"read"}],"expires":"720h"}`},
			responses: map[int]response{201: jsonResp("made: token is its text", "NewToken"), 400: problemResp("bad name, grant or expiry"),
				403: problemResp("the caller has no admin grant, or a grant asked for is beyond its own")},
			h: a.createToken},
		{method: "GET", path: "/v1/tokens", id: "listTokens", tag: "access",
			summary:   "The tokens (never their text): all of them for an admin of *, else those the caller made",
			responses: map[int]response{200: jsonResp("the tokens", "TokenList"), 403: problemResp("the caller has no admin grant")},
			h:         a.listTokens},
		{method: "DELETE", path: "/v1/tokens/{id}", id: "deleteToken", tag: "access",
			summary: "Revoke a token: every node refuses it within a second", params: []param{tokenID},
			responses: map[int]response{204: {desc: "revoked"}, 403: problemResp("neither an admin of *, the token's maker, nor the token itself"),
				404: problemResp("no such token")},
			h: a.deleteToken},
		{method: "GET", path: "/v1/session", id: "getSession", tag: "access",
			summary:   "Whether access control is on, and the request's token (its grants); a browser session gets its CSRF value",
			responses: map[int]response{200: jsonResp("the session", "Session")}, h: a.getSession},
		{method: "POST", path: "/v1/session", id: "createSession", tag: "access",
			summary: "Sign a browser in: the token goes to an HttpOnly, SameSite=Strict cookie; every change then sends X-Sluice-CSRF",
			body:    &body{desc: "the token", types: []string{"application/json"}, schema: "SessionRequest", example: `{"token":"sluice_..."}`},
			responses: map[int]response{200: jsonResp("signed in (Set-Cookie)", "Session"), 400: problemResp("no token in the body"),
				401: problemResp("unknown, revoked or expired token")},
			h: a.createSession},
		{method: "DELETE", path: "/v1/session", id: "deleteSession", tag: "access", summary: "Sign a browser out (the cookie is cleared)",
			responses: map[int]response{204: {desc: "signed out"}}, h: a.deleteSession},
	}
}

// tokens is the token store, for the token routes. With access control
// off they are refused: anyone could make tokens then, and would hold
// them once it is turned on.
func (a *API) tokens() (*token.Store, error) {
	if a.opts.Tokens == nil {
		return nil, problem(http.StatusNotFound, "Not found", "this node keeps no tokens")
	}
	if !a.opts.Auth {
		return nil, problem(http.StatusConflict, "Access control is off",
			"tokens are made and used on a node with auth.enabled: true (docs/ACCESS.md); its first admin token is SLUICE_ADMIN_TOKEN, or printed once at start")
	}
	return a.opts.Tokens, nil
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) error {
	store, err := a.tokens()
	if err != nil {
		return err
	}
	if _, err := bodyType(r, false); err != nil {
		return err
	}
	var req TokenRequest
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(&req); err != nil {
		return badRequest("request body: want {\"name\", \"grants\": [{\"resource\", \"role\"}], \"expires\"}: %v", err)
	}
	expires, err := token.ParseExpiry(req.Expires)
	if err != nil {
		return badRequest("%v", err)
	}
	n := token.NewRequest{Name: req.Name, Grants: req.Grants, Expires: expires, By: by(r)}
	if t := caller(r); t != nil {
		if !t.AllowsAny(token.Admin) {
			return forbidden(t, "a resource", token.Admin)
		}
		for i, g := range req.Grants {
			if !t.Covers(g) {
				p := problem(http.StatusForbidden, "Forbidden", fmt.Sprintf("grants[%d]: the token %q cannot give %s, which is beyond its own grants", i, t.Name, g))
				p.Ext = map[string]any{"grant": g, "token": t.ID}
				return p
			}
		}
		n.By = t.ID
		if t.Expires != nil { // a token makes none that outlives it
			left := time.Until(*t.Expires)
			if n.Expires == 0 || n.Expires > left {
				n.Expires = left
			}
		}
	}
	tok, text, err := store.Create(r.Context(), n)
	var invalid *token.InvalidError
	if errors.As(err, &invalid) {
		return badRequest("%v", err)
	}
	if errors.Is(err, token.ErrTooMany) {
		return problem(http.StatusConflict, "Too many tokens", err.Error())
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/tokens/"+tok.ID)
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusCreated, NewToken{Token: tok.Public(), Text: text})
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	store, err := a.tokens()
	if err != nil {
		return err
	}
	t := caller(r)
	if t != nil && !t.AllowsAny(token.Admin) {
		return forbidden(t, "a resource", token.Admin)
	}
	all, err := store.List(r.Context())
	if err != nil {
		return err
	}
	out := TokenList{Tokens: []token.Token{}}
	for _, o := range all {
		if t == nil || t.AllowsAll(token.Admin) || o.CreatedBy == t.ID || o.ID == t.ID {
			out.Tokens = append(out.Tokens, o)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) deleteToken(w http.ResponseWriter, r *http.Request) error {
	store, err := a.tokens()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	o, err := store.Get(r.Context(), id)
	if errors.Is(err, token.ErrNotFound) {
		return problem(http.StatusNotFound, "Not found", err.Error())
	}
	if err != nil {
		return err
	}
	if t := caller(r); t != nil && !t.AllowsAll(token.Admin) && o.ID != t.ID && !(t.AllowsAny(token.Admin) && o.CreatedBy == t.ID) {
		return problem(http.StatusForbidden, "Forbidden",
			fmt.Sprintf("the token %q may revoke itself and the tokens it made; %s (%q) is neither (an admin of * may revoke any)", t.Name, o.ID, o.Name))
	}
	if err := store.Revoke(r.Context(), id); err != nil && !errors.Is(err, token.ErrNotFound) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request) error {
	s := Session{Enabled: a.opts.Auth, May: a.may(r)}
	if t := caller(r); t != nil {
		pub := t.Public()
		s.Token = &pub
		if text, cookie, err := credential(r); err == nil && cookie {
			s.CSRF = token.CSRF(text)
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, s)
}

func (a *API) createSession(w http.ResponseWriter, r *http.Request) error {
	if !a.opts.Auth {
		return writeJSON(w, http.StatusOK, Session{})
	}
	if _, err := bodyType(r, false); err != nil {
		return err
	}
	var req struct {
		Token string `json:"token"`
	}
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 4<<10))
	if err != nil || json.Unmarshal(raw, &req) != nil || req.Token == "" {
		return badRequest(`request body: want {"token": "..."}`)
	}
	r.Header.Set("Authorization", "Bearer "+req.Token)
	r.Header.Del(CSRFHeader)
	t, err := a.authenticate(r)
	if err != nil {
		return err
	}
	// No Expires: the cookie ends with the browser's session, so the token
	// is not kept on the browser's disk; the node refuses it once expired.
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: req.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	w.Header().Set("Cache-Control", "no-store")
	pub := t.Public()
	r = r.WithContext(context.WithValue(r.Context(), callerKey{}, t))
	return writeJSON(w, http.StatusOK, Session{Enabled: true, Token: &pub, CSRF: token.CSRF(req.Token), May: a.may(r)})
}

func (a *API) deleteSession(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: -1, Expires: time.Unix(0, 0)})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
