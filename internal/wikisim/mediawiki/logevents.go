package mediawiki

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// The deletion log, and action=query&list=logevents over it. The answer's
// shape follows MediaWiki's ApiQueryLogEvents (formatversion=2): per entry
// logid, then ns and title, then pageid (the page now at the title, 0 if
// none) and logpage (the id of the page the entry is about: for a deletion,
// the deleted page's), then type and action, then timestamp, newest first.
// No recording of a live answer exists in the fixtures; only letype=delete,
// letitle, leprop=ids|title|type|timestamp, lelimit, and lestart/leend
// (newest first, so lestart is the later bound; RFC 3339 or unix seconds)
// are simulated.

// deletion is one entry of a wiki's deletion log.
type deletion struct {
	logID int64
	title string // normalized
	ns    int
	page  int64 // the deleted page's id
	at    time.Time
}

// Delete deletes the page title of host at time at, as log entry logID: the
// page is missing from then on (until SetMissing(host, title, false)
// creates it again, with a new id), and the log keeps the id it had, which
// Delete returns.
func (w *Wiki) Delete(host, title string, logID int64, at time.Time) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := ref(host, title)
	id := w.remember(p)
	w.missing[p] = true
	w.recreated[p]++ // the next page at this title is another page
	_, ns, _ := normalize(p.Title)
	w.deletions[p.Host] = append(w.deletions[p.Host], deletion{logID: logID, title: p.Title, ns: ns, page: id, at: at.UTC()})
	return id
}

// deletionsOf returns the deletions of title on host, newest first, and
// the id of the page now at title (0 if none).
func (w *Wiki) deletionsOf(host, title string) ([]deletion, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []deletion
	for _, d := range w.deletions[host] {
		if d.title == title {
			out = append(out, d)
		}
	}
	if w.timeline != nil {
		_, ns, _ := normalize(title)
		for _, d := range w.timeline.Deletions(host, title) {
			out = append(out, deletion{logID: d.LogID, title: title, ns: ns, page: genID(host, title, d.Gen), at: d.At.UTC()})
		}
	}
	slices.SortStableFunc(out, func(a, b deletion) int {
		return cmp.Or(b.at.Compare(a.at), cmp.Compare(b.logID, a.logID))
	})
	var now int64
	if p := (PageRef{Host: host, Title: title}); w.exists(p) {
		now = w.idOf(p)
		if st, ok := w.nowOf(host, title); ok && st.Deleted {
			now = 0
		} else if ok {
			now = genID(host, title, st.Gen)
		}
	}
	return out, now
}

type (
	logEventsResponse struct {
		BatchComplete bool              `json:"batchcomplete,omitempty"`
		Continue      *logContinueOut   `json:"continue,omitempty"`
		Query         logEventsQueryOut `json:"query"`
	}
	logContinueOut struct {
		LEContinue string `json:"lecontinue"`
		Continue   string `json:"continue"`
	}
	logEventsQueryOut struct {
		LogEvents []logEventOut `json:"logevents"`
	}
	logEventOut struct {
		LogID     int64  `json:"logid,omitempty"`
		NS        *int   `json:"ns,omitempty"`
		Title     string `json:"title,omitempty"`
		PageID    *int64 `json:"pageid,omitempty"`
		LogPage   *int64 `json:"logpage,omitempty"`
		Type      string `json:"type,omitempty"`
		Action    string `json:"action,omitempty"`
		Timestamp string `json:"timestamp,omitempty"`
	}
)

// logEvents answers action=query&list=logevents&letype=delete&letitle=T.
func (s *Server) logEvents(host string, f url.Values) (any, error) {
	for name := range f {
		switch name {
		case "action", "list", "letype", "letitle", "leprop", "lelimit", "lestart", "leend", "format", "formatversion", "maxlag":
		default:
			return nil, unsupported(name + "= is not simulated with list=logevents")
		}
	}
	if f.Get("letype") != "delete" {
		return nil, unsupported("only letype=delete is simulated")
	}
	if !f.Has("letitle") {
		return nil, unsupported("list=logevents without letitle is not simulated")
	}
	title, _, bad := normalize(f.Get("letitle"))
	if bad != "" {
		return nil, &apiError{Code: "invalidtitle", Info: `Bad title "` + f.Get("letitle") + `".`}
	}
	asked := split(f, "leprop")
	if asked == nil {
		asked = []string{"ids", "title", "type", "timestamp"}
	}
	props := map[string]bool{}
	for _, p := range asked {
		switch p {
		case "ids", "title", "type", "timestamp":
			props[p] = true
		default:
			return nil, unsupported("leprop=" + p + " is not simulated")
		}
	}
	n, err := limit(f, "lelimit")
	if err != nil {
		return nil, err
	}
	start, err := timeParam(f, "lestart")
	if err != nil {
		return nil, err
	}
	end, err := timeParam(f, "leend")
	if err != nil {
		return nil, err
	}
	ds, now := s.wiki.deletionsOf(host, title)
	ds = slices.DeleteFunc(ds, func(d deletion) bool {
		return !start.IsZero() && d.at.After(start) || !end.IsZero() && d.at.Before(end)
	})
	resp := &logEventsResponse{BatchComplete: true, Query: logEventsQueryOut{LogEvents: []logEventOut{}}}
	if len(ds) > n {
		next := ds[n]
		resp.BatchComplete = false
		resp.Continue = &logContinueOut{LEContinue: next.at.Format("20060102150405") + "|" + strconv.FormatInt(next.logID, 10), Continue: "-||"}
		ds = ds[:n]
	}
	for _, d := range ds {
		var e logEventOut
		if props["ids"] {
			e.LogID, e.PageID, e.LogPage = d.logID, &now, &d.page
		}
		if props["title"] {
			e.NS, e.Title = &d.ns, d.title
		}
		if props["type"] {
			e.Type, e.Action = "delete", "delete"
		}
		if props["timestamp"] {
			e.Timestamp = d.at.Format(time.RFC3339)
		}
		resp.Query.LogEvents = append(resp.Query.LogEvents, e)
	}
	return resp, nil
}

// timeParam reads a timestamp parameter, RFC 3339 or unix seconds; zero if
// absent.
func timeParam(f url.Values, name string) (time.Time, error) {
	v := f.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, &apiError{Code: "badtimestamp_" + name,
		Info: `Invalid value "` + v + `" for timestamp parameter "` + name + `".`}
}
