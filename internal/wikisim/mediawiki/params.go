package mediawiki

import (
	"net/url"
	"strconv"
	"strings"
)

// maxValues is the real API's limit on values of a multi-value parameter
// (titles, pageids) for clients without the apihighlimits right.
const maxValues = 50

// apiError is the real API's error object, answered with HTTP 200 as
// {"error": {...}}.
type apiError struct {
	Code string `json:"code"`
	Info string `json:"info"`
	Host string `json:"host,omitempty"` // maxlag only
	Lag  int    `json:"lag,omitempty"`  // maxlag only
	Type string `json:"type,omitempty"` // maxlag only
}

func (e *apiError) Error() string { return e.Code + ": " + e.Info }

// unsupported is a request the simulator does not simulate; it is refused
// with HTTP 400 rather than answered differently from the real API.
type unsupported string

func (u unsupported) Error() string { return string(u) }

func badInteger(param, value string) *apiError {
	return &apiError{Code: "badinteger",
		Info: `Invalid value "` + value + `" for integer parameter "` + param + `".`}
}

// split returns the values of a multi-value parameter as the real API
// splits them: on "|", or on U+001F if the value starts with it. Absent or
// empty gives none.
func split(f url.Values, name string) []string {
	v := f.Get(name)
	if v == "" {
		return nil
	}
	if rest, ok := strings.CutPrefix(v, "\x1f"); ok {
		return strings.Split(rest, "\x1f")
	}
	return strings.Split(v, "|")
}

// values is split with the real API's limit of 50.
func values(f url.Values, name string) ([]string, error) {
	vs := split(f, name)
	if len(vs) > maxValues {
		return nil, &apiError{Code: "toomanyvalues",
			Info: `Too many values supplied for parameter "` + name + `". The limit is 50.`}
	}
	return vs, nil
}

// onlyProp checks that prop names just the one prop simulated.
func onlyProp(f url.Values, prop string) error {
	if f.Get("prop") != prop {
		return unsupported("only prop=" + prop + " is simulated (got prop=" + f.Get("prop") + ")")
	}
	return nil
}

// limit reads a limit parameter as the real API does: default 10, "max"
// 500, a number clamped to 1..500.
func limit(f url.Values, name string) (int, error) {
	switch v := f.Get(name); v {
	case "":
		return 10, nil
	case "max":
		return 500, nil
	default:
		i, err := strconv.Atoi(v)
		if err != nil {
			return 0, badInteger(name, v)
		}
		return min(max(i, 1), 500), nil
	}
}

// imLimit is the imlimit parameter (limit), capped by the server's ImLimit.
func (s *Server) imLimit(f url.Values) (int, error) {
	n, err := limit(f, "imlimit")
	if err != nil {
		return 0, err
	}
	if c := int(s.imCap.Load()); c > 0 {
		n = min(n, c)
	}
	return n, nil
}

// imContinue parses imcontinue, "<pageid>|<file name with underscores>".
func imContinue(f url.Values) (id int64, name string, ok bool, err error) {
	v := f.Get("imcontinue")
	if v == "" {
		return 0, "", false, nil
	}
	ids, name, found := strings.Cut(v, "|")
	id, perr := strconv.ParseInt(ids, 10, 64)
	if !found || perr != nil || name == "" {
		return 0, "", false, &apiError{Code: "badcontinue",
			Info: "Invalid continue param. You should pass the original value returned by the previous query."}
	}
	return id, name, true, nil
}
