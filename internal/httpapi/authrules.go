package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/config"

	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/token"
)

// rule is what a route asks of the request's token. Every route has one
// (New panics otherwise), so a new route cannot be left open by mistake.
type rule struct {
	open bool // no token needed
	// check answers nil if the token may go on; nil: any valid token
	// (the handler filters what it lists, or checks what the body names).
	check func(a *API, r *http.Request) error
	// resource names what the route acts on, for the audit; role is the
	// role check asks (audited: operate and admin).
	resource func(r *http.Request) string
	role     token.Role
	audit    bool // recorded in the audit whatever its role
}

// on is a rule for a route about the resource kind:{name}.
func on(kind string, role token.Role) rule {
	return onName(kind, role, func(r *http.Request) string { return r.PathValue("name") })
}

func onName(kind string, role token.Role, name func(*http.Request) string) rule {
	return rule{role: role,
		check:    func(a *API, r *http.Request) error { return a.require(r, kind, name(r), role) },
		resource: func(r *http.Request) string { return kind + ":" + name(r) }}
}

// onEverything is a rule for a route about the whole node.
func onEverything(role token.Role) rule {
	return rule{role: role, check: func(a *API, r *http.Request) error { return a.requireAll(r, role) }}
}

var (
	open     = rule{open: true}
	signedIn = rule{} // any token: the handler shows only what it may see, or checks what the body names
	changes  = rule{audit: true}
)

func operationName(r *http.Request) string { return pipeline.OperationPipeline(r.PathValue("id")) }

// rules are the routes' rules, by route id.
var rules = map[string]rule{
	"healthz": open, "readyz": open, "openapi": open, "createSession": open, "deleteSession": open,
	"getSession": signedIn,

	"listStreams": signedIn, "getStream": on("stream", token.Read), "getSchemaVersion": on("stream", token.Read),
	"setSchema": on("stream", token.Admin), "produce": on("stream", token.Produce), "read": on("stream", token.Read),

	"getCluster": onEverything(token.Read),

	"listSources": signedIn, "getSource": on("source", token.Read),
	"pauseSource": on("source", token.Operate), "resumeSource": on("source", token.Operate),

	"listFunctions": signedIn, "getFunction": on("function", token.Read), "invokeFunction": on("function", token.Invoke),

	"listPipelines": signedIn, "getPipeline": on("pipeline", token.Read),
	"pausePipeline": on("pipeline", token.Operate), "resumePipeline": on("pipeline", token.Operate),
	"resetPipeline": on("pipeline", token.Operate), "redrivePipeline": on("pipeline", token.Operate),
	"invokePipeline": on("pipeline", token.Invoke), "dryRunPipeline": signedIn, // what it would create: the handler checks (mayDefine)

	"listTables": signedIn, "scanTable": on("table", token.Read), "getKey": on("table", token.Read),
	"lookupKeys": on("table", token.Read), "keyHistory": on("table", token.Read), "rebuildTable": on("table", token.Operate),

	"listOperations": signedIn, "getOperation": onName("pipeline", token.Read, operationName),
	"cancelOperation": onName("pipeline", token.Operate, operationName),

	"listDefinitions": signedIn, "apply": changes,

	"createToken": changes, "listTokens": signedIn, "deleteToken": changes,
}

// The routes every kind of definition has (definitions.go).
func init() {
	for _, k := range catalog.Kinds {
		one, t := k.Singular(), title(k.Singular())
		rules["create"+t] = changes // the name is in the body: the handler checks it
		rules["replace"+t], rules["delete"+t], rules["history"+t] = on(one, token.Admin), on(one, token.Admin), on(one, token.Read)
	}
}

// ruleOf is a route's rule.
func ruleOf(rt route) rule {
	if rl, ok := rules[rt.id]; ok {
		return rl
	}
	panic(fmt.Sprintf("httpapi: route %s (%s %s) has no access rule (authrules.go)", rt.id, rt.method, rt.path))
}

// mayDefine answers nil if the request may create or change the
// definition: admin on it, and for what runs, the grants of what it does:
// a pipeline reads its input (read), writes its streams and tables
// (produce) and calls its function (invoke); a source writes its stream.
// A pipeline made through the API thus runs with its maker's grants,
// checked again at every change. What reaches the node's host or network
// (a process or http function, a source, a sql or files output, a
// function's operator fields) needs admin on *: it acts as the node.
// The spec is checked in its canonical form, the one the catalog keeps,
// so that no two readings of one body (a key given twice) can differ.
func (a *API) mayDefine(r *http.Request, k catalog.Kind, name string, spec []byte) error {
	if err := a.require(r, k.Singular(), name, token.Admin); err != nil {
		return err
	}
	canon, err := catalog.Canonical(spec)
	if err != nil {
		return badRequest("spec: %v", err)
	}
	v, err := config.Decode(k, canon)
	if err != nil {
		if caller(r) == nil {
			return nil // the project's checks say why (422)
		}
		p := problem(http.StatusUnprocessableEntity, "Invalid definition", err.Error())
		p.Ext = map[string]any{"errors": []any{}}
		return p
	}
	needs, host := a.needs(v)
	if host != "" {
		if err := a.requireAll(r, token.Admin); err != nil {
			p := err.(*Problem)
			p.Detail = fmt.Sprintf("%s %s %s, which acts as the node itself: %s", k.Singular(), name, host, p.Detail)
			return p
		}
	}
	for _, g := range needs {
		kind, n, _ := strings.Cut(g.Resource, ":")
		if n == "" {
			continue
		}
		if err := a.require(r, kind, n, g.Role); err != nil {
			if p, ok := err.(*Problem); ok {
				p.Detail = fmt.Sprintf("%s %s would %s %s: %s", k.Singular(), name, verb[g.Role], g.Resource, p.Detail)
			}
			return err
		}
	}
	return nil
}

var verb = map[token.Role]string{token.Read: "read", token.Produce: "write", token.Invoke: "call"}

// needs are the grants a definition's runs need, and what of it, if
// anything, reaches the node's host or network.
func (a *API) needs(v any) (needs []token.Grant, host string) {
	switch d := v.(type) {
	case config.Pipeline:
		needs = append(needs, token.Grant{Resource: "stream:" + d.From, Role: token.Read})
		if d.Function.Name != "" {
			needs = append(needs, token.Grant{Resource: "function:" + d.Function.Name, Role: token.Invoke})
			if f := a.operatorField(d.Function.Name, d.Function.Config); f != "" {
				host = "sets the operator field " + f + " of its function"
			}
		}
		for _, o := range d.To {
			if s := o.Stream(); s != "" {
				needs = append(needs, token.Grant{Resource: "stream:" + s, Role: token.Produce})
			}
			if t := o.Table(); t != "" {
				needs = append(needs, token.Grant{Resource: "table:" + t, Role: token.Produce})
			}
			if kind, _ := o.Kind(); kind == "sql" || kind == "files" {
				host = "has a " + kind + " output (a database or a place of the node's)"
			}
		}
	case config.Source:
		needs = append(needs, token.Grant{Resource: "stream:" + d.To, Role: token.Produce})
		host = "reads a feed or a file of the node's"
	case config.Function:
		if _, ok := d.Kinds["process"]; ok {
			host = "runs a command on the node"
		} else if _, ok := d.Kinds["http"]; ok {
			host = "calls an HTTP endpoint from the node"
		} else if f := a.operatorField(d.Kind, d.Config); f != "" {
			host = "sets the operator field " + f
		}
	}
	return needs, host
}

// operatorField is an operator field (a network target, which only the
// node's config sets) that config gives the built-in kind, or "".
func (a *API) operatorField(kind string, config map[string]any) string {
	if a.opts.Functions == nil {
		return ""
	}
	spec, err := a.opts.Functions.Spec(kind)
	if err != nil {
		return "" // not a built-in kind: a named function, which its own definition checks
	}
	for _, f := range spec.OperatorFields() {
		for k := range config {
			if strings.EqualFold(k, f) {
				return f
			}
		}
	}
	return ""
}
