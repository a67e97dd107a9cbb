package mediawiki

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"time"
)

// A deletion event (log_type delete, log_action delete or delete_redir)
// names the page by title only, and once deleted the page has no id in
// action=query. The deletion's log entry keeps it: list=logevents with
// leprop=ids answers logid, pageid (the page now at that title, 0 if none)
// and logpage (log_page: the id of the page the entry is about, which for a
// deletion is the deleted page's). The function asks for the title's
// deletions around the event's time (its timestamp is the log entry's) and
// takes the entry with the event's log_id, so a deleted page's output
// carries the id it had and a table keyed by page id can record the
// deletion.
//
// The id is a bonus, not a condition: when the log cannot be asked (the
// event has no log_id, or its wiki is not allowed), when it answers with an
// API error, or when it does not list the entry (hidden, or not yet on the
// replica asked), the output is missing without an id, as it was before
// the log was asked. Only failures worth retrying (network, 5xx, 429,
// maxlag past max_attempts) fail the event, for a redrive.

// deletionWindow is how far around the event's time the log is searched.
const deletionWindow = time.Minute

// deletionsAsked is how many of a title's newest deletions one request lists.
const deletionsAsked = 50

// logEventsAnswer is the formatversion=2 answer of list=logevents&leprop=ids.
type logEventsAnswer struct {
	Query *struct {
		LogEvents []struct {
			LogID   int64 `json:"logid"`
			LogPage int64 `json:"logpage"`
		} `json:"logevents"`
	} `json:"query"`
}

// deletedPage asks the log for the deletion of job j (its title, log_id
// and time) and returns the page missing, with the id it had, or 0 if the
// log cannot say.
func (f *pageImages) deletedPage(ctx context.Context, w *wiki, j job) pageResult {
	params := url.Values{
		"action": {"query"}, "list": {"logevents"}, "letype": {"delete"}, "letitle": {j.ev.Title},
		"leprop": {"ids"}, "lelimit": {strconv.Itoa(deletionsAsked)},
		"formatversion": {"2"}, "format": {"json"}, "maxlag": {strconv.Itoa(f.maxlag)},
	}
	if ts, err := strconv.ParseInt(string(j.ev.Timestamp), 10, 64); err == nil { // newest first: lestart is the later bound
		at := time.Unix(ts, 0).UTC()
		params.Set("lestart", at.Add(deletionWindow).Format(time.RFC3339))
		params.Set("leend", at.Add(-deletionWindow).Format(time.RFC3339))
	}
	a, err := f.get(ctx, w, params)
	var ae *APIError
	if errors.As(err, &ae) && ae.Code != "maxlag" && ae.Code != "ratelimited" {
		return pageResult{missing: true, at: time.Now()} // the log cannot say: no id
	}
	if err != nil {
		return pageResult{err: err}
	}
	logID := *j.ev.LogID
	id, err := decodeDeletion(a.body, logID)
	if err != nil {
		return pageResult{err: a.fail(err)}
	}
	return pageResult{missing: true, id: id, at: a.at}
}

// decodeDeletion returns the logpage of entry logID of a list=logevents
// answer, or 0 if the answer does not list it.
func decodeDeletion(body []byte, logID int64) (int64, error) {
	var a logEventsAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return 0, unexpected(err, body)
	}
	if a.Query == nil {
		return 0, unexpected(errors.New(`no "query"`), body)
	}
	for _, e := range a.Query.LogEvents {
		if e.LogID == logID {
			return max(e.LogPage, 0), nil
		}
	}
	return 0, nil
}
