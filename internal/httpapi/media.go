package httpapi

import (
	"mime"
	"net/http"
	"slices"
	"strings"
)

// Media types of request bodies. A body of any other type is refused (415)
// before it is read: a form post or a text/plain "simple" cross-site
// request is never parsed as JSON.
const (
	typeJSON   = "application/json"
	typeNDJSON = "application/x-ndjson"
)

// ndjsonAliases are the other names of NDJSON that produce accepts.
var ndjsonAliases = []string{"application/jsonl", "application/json-seq"}

// bodyType checks a request's Content-Type: application/json or, when
// ndjsonOK, NDJSON (application/x-ndjson and its aliases), with no charset
// but UTF-8. It reports whether the body is NDJSON.
func bodyType(r *http.Request, ndjsonOK bool) (ndjson bool, err error) {
	accepted := typeJSON
	if ndjsonOK {
		accepted += ", " + typeNDJSON
	}
	ct := r.Header.Get("Content-Type")
	refuse := func(why string) (bool, error) {
		p := problem(http.StatusUnsupportedMediaType, "Unsupported media type", why+"; send "+strings.ReplaceAll(accepted, ", ", " or "))
		p.Ext = map[string]any{"accepted": strings.Split(accepted, ", ")}
		p.header = http.Header{"Accept": {accepted}} // RFC 9110 15.5.16: which types would have been accepted
		return false, p
	}
	if ct == "" {
		return refuse("the request has no Content-Type")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return refuse("Content-Type " + quote(ct) + " cannot be parsed")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return refuse("charset " + quote(cs) + ": JSON is UTF-8")
	}
	switch {
	case mt == typeJSON:
		return false, nil
	case ndjsonOK && (mt == typeNDJSON || slices.Contains(ndjsonAliases, mt)):
		return true, nil
	}
	return refuse("Content-Type " + quote(mt) + " is not accepted here")
}

// quote bounds and quotes a client's text for an error message.
func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return strings.ToValidUTF8(`"`+s+`"`, "?")
}
