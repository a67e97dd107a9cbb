package mediawiki

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// change is the part of a recentchange event the function reads.
type change struct {
	Meta struct {
		ID string `json:"id"`
		DT string `json:"dt"`
	} `json:"meta"`
	Type             string          `json:"type"`
	Title            string          `json:"title"`
	Wiki             string          `json:"wiki"`
	ServerURL        string          `json:"server_url"`
	ServerScriptPath string          `json:"server_script_path"`
	Timestamp        json.RawMessage `json:"timestamp"` // unix seconds; a log event's is its log entry's (read only for deletions)
	LogID            *int64          `json:"log_id"`
	LogType          string          `json:"log_type"`
	LogAction        string          `json:"log_action"`
	Revision         *struct {
		New *int64 `json:"new"`
	} `json:"revision"`
}

// job is one input event, ready to look up.
type job struct {
	ev      change
	idFrom  string   // what the output's meta.id derives from
	deleted bool     // a page deletion: missing; its id is asked of the log (deletion.go)
	domain  string   // host of server_url
	api     *url.URL // the wiki's api.php (nil for a deletion the log cannot be asked about)
	rev     int64    // revision.new, 0 if none
}

// prepare decodes and checks one input event.
func (f *pageImages) prepare(raw json.RawMessage) (job, error) {
	var j job
	if err := json.Unmarshal(raw, &j.ev); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return j, fmt.Errorf("event: %s: want %s, got %s", te.Field, te.Type, te.Value)
		}
		return j, fmt.Errorf("event is not a JSON object: %w", err)
	}
	e := &j.ev
	if e.Meta.DT == "" {
		return j, errors.New("meta.dt: required")
	}
	j.idFrom = e.Meta.ID
	if j.idFrom == "" {
		h := sha1.Sum(raw) // still deterministic for the same event
		j.idFrom = "sha1:" + hex.EncodeToString(h[:])
	}
	if e.Revision != nil && e.Revision.New != nil {
		j.rev = *e.Revision.New
	}
	if e.Type == "log" && e.LogType == "delete" && (e.LogAction == "delete" || e.LogAction == "delete_redir") {
		// Missing in any case; the domain from server_url unless the log is asked below.
		j.deleted = true
		if u, err := url.Parse(e.ServerURL); err == nil {
			j.domain = u.Hostname()
		}
		if e.LogID == nil || *e.LogID <= 0 || e.Title == "" || e.ServerURL == "" {
			return j, nil // nothing to ask the log: missing, without an id
		}
	}
	if e.Title == "" {
		return j, errors.New("title: required: the event names no page")
	}
	if e.ServerURL == "" {
		return j, errors.New("server_url: required: the event names no wiki to ask")
	}
	api, err := f.hosts.endpoint(e.ServerURL, e.ServerScriptPath)
	if err != nil && j.deleted {
		return j, nil // the log cannot be asked: missing, without an id
	}
	if err != nil {
		return j, err
	}
	j.api, j.domain = api, api.Hostname()
	if f.apiBase != nil {
		j.api = rebase(f.apiBase, api)
	}
	if f.mode == ModeRevision && j.rev <= 0 && !j.deleted {
		return j, fmt.Errorf("revision.new: required in mode %s (event type %q has none)", ModeRevision, e.Type)
	}
	return j, nil
}

// pageResult is what the API said about one page.
type pageResult struct {
	id      int64
	missing bool
	images  []string // "File:..." titles, sorted, unique
	at      time.Time
	err     error
}

// output is the function's output event.
type output struct {
	PageID         string     `json:"page_id"`
	ImageList      []string   `json:"image_list"`
	CreateDateTime string     `json:"create_date_time"`
	Wiki           string     `json:"wiki"`
	Domain         string     `json:"domain"`
	Title          string     `json:"title"`
	RevID          *int64     `json:"rev_id"`
	EventTime      string     `json:"event_time"`
	Missing        bool       `json:"missing"`
	Meta           outputMeta `json:"meta"`
}

type outputMeta struct {
	ID     string `json:"id"`
	DT     string `json:"dt"`
	Stream string `json:"stream"`
}

// timeLayout is RFC 3339 with microseconds.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// emit is the result for j given what the API said.
func emit(j job, p pageResult) ([]json.RawMessage, error) {
	if p.err != nil {
		return nil, p.err
	}
	o := output{
		ImageList:      p.images,
		CreateDateTime: p.at.UTC().Format(timeLayout),
		Wiki:           j.ev.Wiki,
		Domain:         j.domain,
		Title:          j.ev.Title,
		EventTime:      j.ev.Meta.DT,
		Missing:        p.missing,
		Meta:           outputMeta{ID: OutputID(j.idFrom), DT: j.ev.Meta.DT, Stream: OutputStream},
	}
	if p.id > 0 { // a deleted page's id comes from the deletion's log entry
		o.PageID = strconv.FormatInt(p.id, 10)
	}
	if o.ImageList == nil || p.missing {
		o.ImageList = []string{}
	}
	if j.ev.Revision != nil {
		o.RevID = j.ev.Revision.New
	}
	b, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	return []json.RawMessage{b}, nil
}

// OutputID derives a UUID (version 5: SHA-1 of a name) from the input
// event's id and the function's name, so the same input always gives the
// same output id.
func OutputID(inputID string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(inputID+"\x00"+Name)).String()
}

// sortedUnique sorts names and drops repeats, in place.
func sortedUnique(names []string) []string {
	slices.Sort(names)
	return slices.Compact(names)
}
