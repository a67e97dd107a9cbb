package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
)

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

// OpenAPI builds the OpenAPI 3.1 document from the route table.
func (a *API) OpenAPI() map[string]any {
	paths := map[string]any{}
	for _, rt := range a.routes {
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		op := map[string]any{"operationId": rt.id, "summary": rt.summary, "tags": []string{rt.tag}}
		var params []any
		for _, p := range rt.params {
			params = append(params, map[string]any{"name": p.name, "in": p.in, "description": p.desc,
				"required": p.required, "schema": map[string]any{"type": p.typ}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.body != nil {
			content := map[string]any{}
			for _, t := range rt.body.types {
				mt := map[string]any{"schema": ref(rt.body.schema)}
				if rt.body.example != "" {
					mt["example"] = json.RawMessage(rt.body.example)
				}
				content[t] = mt
			}
			op["requestBody"] = map[string]any{"description": rt.body.desc, "required": true, "content": content}
		}
		responses := map[string]any{}
		for code, resp := range rt.responses {
			r := map[string]any{"description": resp.desc}
			if len(resp.types) > 0 {
				content := map[string]any{}
				for _, t := range resp.types {
					if resp.schema != "" {
						content[t] = map[string]any{"schema": ref(resp.schema)}
					} else {
						content[t] = map[string]any{}
					}
				}
				r["content"] = content
			}
			responses[strconv.Itoa(code)] = r
		}
		if ruleOf(rt).open {
			op["security"] = []any{} // with access control on too
		} else {
			for code, desc := range map[int]string{401: "no token, or an unknown, revoked or expired one (access control on)",
				403: "the token lacks the grant, named in missing"} {
				if _, ok := responses[strconv.Itoa(code)]; !ok {
					responses[strconv.Itoa(code)] = map[string]any{"description": desc,
						"content": map[string]any{"application/problem+json": map[string]any{"schema": ref("Problem")}}}
				}
			}
		}
		op["responses"] = responses
		item[lower(rt.method)] = op
	}
	paths["/metrics"] = map[string]any{"get": map[string]any{"operationId": "metrics", "summary": "Prometheus metrics (with access control on: a token with read on *)",
		"tags": []string{"operations"}, "responses": map[string]any{"200": map[string]any{"description": "text exposition format"},
			"401": map[string]any{"description": "no token, or an unknown one"}, "403": map[string]any{"description": "the token has no read on *"}}}}
	var tags []any
	for _, t := range []string{"streams", "events", "sources", "functions", "pipelines", "tables", "access", "operations"} {
		tags = append(tags, map[string]any{"name": t})
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "sluice API", "version": "1",
			"description": "Schema-checked event streams: create streams, produce, read and subscribe. Errors are application/problem+json (RFC 9457). " +
				"Any request may also be refused before it is served: 421 for a Host the node does not serve, 403 for a request " +
				"a browser sends for another site's page not allowed by http.trusted_origins or http.cors_origins, 408 for a body sent too slowly (docs/HTTP.md)."},
		"tags":  tags,
		"paths": paths,
		// With auth.enabled, every operation but those whose security is
		// empty needs a token: a bearer token, or the UI's session cookie
		// (whose changes also send X-Sluice-CSRF). docs/ACCESS.md.
		"security": []any{map[string]any{"bearer": []any{}}, map[string]any{"session": []any{}}},
		"components": map[string]any{"schemas": componentSchemas(), "securitySchemes": map[string]any{
			"bearer":  map[string]any{"type": "http", "scheme": "bearer", "description": "a token of POST /v1/tokens (sluice token create)"},
			"session": map[string]any{"type": "apiKey", "in": "cookie", "name": SessionCookie, "description": "the UI's session (POST /v1/session)"}}},
	}
}

// Routes lists "METHOD path" of every route, sorted (for tests and docs).
func (a *API) Routes() []string {
	var out []string
	for _, rt := range a.routes {
		out = append(out, rt.method+" "+pathParam.ReplaceAllString(rt.path, "{$1}"))
	}
	sort.Strings(out)
	return out
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func ref(name string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func (a *API) openapi(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, a.OpenAPI())
}
