package mediawiki

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
)

// A deletion event (log_type delete, log_action delete or delete_redir)
// names the page by title only, and once deleted the page has no id in
// action=query. The deletion's log entry keeps it: list=logevents with
// leprop=ids answers logid, pageid (the page now at that title, 0 if none)
// and logpage (log_page: the id of the page the entry is about, which for a
// deletion is the deleted page's id). The function finds the entry with the
// event's log_id among the title's newest deletions, so a deleted page's
// output carries the id it had and a table keyed by page id can record the
// deletion.

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

// deletedPage asks the log for the deletion logID of title and returns the
// page missing, with the id it had. Without an entry for logID among the
// title's newest deletions (or with its ids hidden), the id is 0: unknown.
func (f *pageImages) deletedPage(ctx context.Context, w *wiki, title string, logID int64) pageResult {
	params := url.Values{
		"action": {"query"}, "list": {"logevents"}, "letype": {"delete"}, "letitle": {title},
		"leprop": {"ids"}, "lelimit": {strconv.Itoa(deletionsAsked)},
		"formatversion": {"2"}, "format": {"json"}, "maxlag": {strconv.Itoa(f.maxlag)},
	}
	a, err := f.get(ctx, w, params)
	if err != nil {
		return pageResult{err: err}
	}
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
