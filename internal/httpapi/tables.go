package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/table"
)

// TableVersion is one version of a key, as the API shows it.
type TableVersion struct {
	Key       string          `json:"key"`
	ValidFrom time.Time       `json:"valid_from"`
	ValidTo   *time.Time      `json:"valid_to"` // null while still valid
	Value     json.RawMessage `json:"value"`    // null for a deletion
	Deleted   bool            `json:"deleted"`
	Source    TableSource     `json:"source"`
}

// TableSource is the input that wrote a version.
type TableSource struct {
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
}

func viewVersion(v table.Version) TableVersion {
	out := TableVersion{Key: v.Key, ValidFrom: v.ValidFrom.UTC(), ValidTo: v.ValidTo, Value: v.Value, Deleted: v.Deleted,
		Source: TableSource{Stream: v.Stream, Seq: v.Seq}}
	if out.ValidTo != nil {
		t := out.ValidTo.UTC()
		out.ValidTo = &t
	}
	if out.Value == nil {
		out.Value = json.RawMessage("null")
	}
	return out
}

// parseTime reads a time parameter: RFC 3339 or unix milliseconds; def if empty.
func parseTime(name, s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	p, err := event.ParsePosition(s)
	if err != nil || p.Kind != event.Time {
		return time.Time{}, badRequest("%s %q: want an RFC 3339 time or unix milliseconds", name, s)
	}
	return p.Time, nil
}

// queryValue is r.URL.Query().Get(name) without the map of every parameter
// (about 400 of the 5,900 bytes a point lookup over HTTP allocated).
func queryValue(r *http.Request, name string) string {
	for q := r.URL.RawQuery; q != ""; {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		if strings.Contains(k, ";") { // url.ParseQuery skips such a pair
			continue
		}
		if k, err := url.QueryUnescape(k); err != nil || k != name {
			continue
		}
		if v, err := url.QueryUnescape(v); err == nil {
			return v
		}
	}
	return ""
}

func (a *API) tableOf(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if names := a.tableNames(); a.opts.Tables == nil || !slices.Contains(names, name) {
		return "", problem(http.StatusNotFound, "Not found", fmt.Sprintf("no table %q (tables: %v)", name, names))
	}
	return name, nil
}

func (a *API) listTables(w http.ResponseWriter, r *http.Request) error {
	names := []string{}
	for _, n := range a.tableNames() {
		if a.visible(r, "table", n) {
			names = append(names, n)
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"tables": names})
}

func (a *API) getKey(w http.ResponseWriter, r *http.Request) error {
	name, err := a.tableOf(r)
	if err != nil {
		return err
	}
	at, err := parseTime("at", queryValue(r, "at"), time.Now())
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	v, err := a.opts.Tables.Get(r.Context(), name, key, at)
	if errors.Is(err, table.ErrNotFound) {
		return problem(http.StatusNotFound, "No value", fmt.Sprintf("key %q of table %q had no value at %s", key, name, at.UTC().Format(time.RFC3339Nano)))
	}
	if err != nil {
		return err
	}
	return writeAppended(w, func(b []byte) []byte { return appendVersion(b, v) })
}

// appendVersion appends v as a TableVersion, the answer of getKey, as
// encoding/json writes viewVersion(v) (TestVersionAsEncodingJSON): written
// by hand, as appendLookup, because a lookup is the API's most frequent
// request and encoding/json took 6% of its CPU and a fifth of what it
// allocated (docs/BENCHMARKS.md, issue #17).
func appendVersion(b []byte, v table.Version) []byte {
	b = append(b, `{"key":`...)
	b = appendString(b, v.Key)
	b = appendValidity(b, v)
	b = append(b, `,"value":`...)
	if v.Value == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, v.Value...)
	}
	b = append(b, `,"deleted":`...)
	b = strconv.AppendBool(b, v.Deleted)
	b = append(b, `,"source":{"stream":`...)
	b = appendString(b, v.Stream)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, v.Seq, 10)
	return append(b, "}}\n"...)
}

func (a *API) keyHistory(w http.ResponseWriter, r *http.Request) error {
	name, err := a.tableOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	from, err := parseTime("from", q.Get("from"), time.Unix(0, 0))
	if err != nil {
		return err
	}
	to, err := parseTime("to", q.Get("to"), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return err
	}
	vs, err := a.opts.Tables.History(r.Context(), name, r.PathValue("key"), from, to)
	if err != nil {
		return err
	}
	out := make([]TableVersion, len(vs))
	for i, v := range vs {
		out[i] = viewVersion(v)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"versions": out})
}

func (a *API) scanTable(w http.ResponseWriter, r *http.Request) error {
	name, err := a.tableOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	at, err := parseTime("at", q.Get("at"), time.Now())
	if err != nil {
		return err
	}
	limit := 100
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 10000 {
			return badRequest("limit %q: want 1 to 10000", s)
		}
	}
	vs, next, err := a.opts.Tables.Scan(r.Context(), name, at, q.Get("prefix"), limit, q.Get("cursor"))
	if err != nil {
		return err
	}
	out := make([]TableVersion, len(vs))
	for i, v := range vs {
		out[i] = viewVersion(v)
	}
	return writeJSON(w, http.StatusOK, a.withSpec(r, catalog.Tables, name, map[string]any{"at": at.UTC(), "versions": out, "next": next}))
}

func (a *API) rebuildTable(w http.ResponseWriter, r *http.Request) error {
	name, err := a.tableOf(r)
	if err != nil {
		return err
	}
	if a.opts.Pipelines == nil {
		return problem(http.StatusConflict, "Cannot rebuild", "no pipeline writes this table")
	}
	op, err := a.opts.Pipelines.StartRebuild(name)
	if err != nil {
		return err
	}
	return accepted(w, op)
}

func (a *API) tableNames() []string {
	if a.opts.TableNames == nil {
		return []string{}
	}
	return a.opts.TableNames()
}
