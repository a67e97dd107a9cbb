package httpapi

import (
	"fmt"
	"net/http"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/source"
	"github.com/sluice-dev/sluice/internal/table"
)

// The rules of the names in paths. A name that breaks its rule can name
// nothing: it is refused (400, naming the rule) before any lower layer
// sees it, so it never reaches NATS as a subject or a key.
func checkStream(s string) error {
	if !catalog.ValidName(s) {
		return badName("stream", s, catalog.NameRule)
	}
	return nil
}

func checkPipeline(s string) error {
	if !pipeline.ValidName(s) {
		return badName("pipeline", s, "[a-z0-9][a-z0-9_-]{0,63}")
	}
	return nil
}

func checkSource(s string) error {
	if !source.ValidName(s) {
		return badName("source", s, "[a-z0-9][a-z0-9_-]{0,63}")
	}
	return nil
}

func checkTable(s string) error {
	if table.ValidName(s) != nil {
		return badName("table", s, fmt.Sprintf("1 to %d of [a-z0-9_]", table.MaxNameLen))
	}
	return nil
}

func badName(kind, name, rule string) *Problem {
	p := problem(http.StatusBadRequest, "Bad name", fmt.Sprintf("%s name %s breaks the rule: %s", kind, quote(name), rule))
	p.Ext = map[string]any{"rule": kind + " name: " + rule}
	return p
}

// standard completes the route table: a route's path names are checked
// before its handler runs, and its documented answers include those
// checks' (400 bad name, 415 for a body of another type).
func standard(routes []route) []route {
	for i := range routes {
		rt := &routes[i]
		var checks []param
		for _, p := range rt.params {
			if p.in == "path" && p.check != nil {
				checks = append(checks, p)
			}
		}
		answers := map[int]response{}
		for code, r := range rt.responses {
			answers[code] = r
		}
		if len(checks) > 0 {
			if _, ok := answers[http.StatusBadRequest]; !ok {
				answers[http.StatusBadRequest] = problemResp("a name breaks its rule")
			}
			h := rt.h
			rt.h = func(w http.ResponseWriter, r *http.Request) error {
				for _, p := range checks {
					if err := p.check(r.PathValue(p.name)); err != nil {
						return err
					}
				}
				return h(w, r)
			}
		}
		if rt.body != nil {
			answers[http.StatusUnsupportedMediaType] = problemResp("the body is not of a type listed in the request body")
		}
		rt.responses = answers
	}
	return routes
}
