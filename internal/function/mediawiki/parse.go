package mediawiki

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// parseAnswer is the formatversion=2 answer of action=parse&prop=images.
type parseAnswer struct {
	Parse *struct {
		Title  string    `json:"title"`
		PageID int64     `json:"pageid"`
		RevID  int64     `json:"revid"`
		Images *[]string `json:"images"` // names with underscores, without "File:"
	} `json:"parse"`
}

// parseRevision asks action=parse for the images of revision rev.
func (f *pageImages) parseRevision(ctx context.Context, w *wiki, rev int64) pageResult {
	params := url.Values{
		"action": {"parse"}, "oldid": {strconv.FormatInt(rev, 10)}, "prop": {"images"},
		"formatversion": {"2"}, "format": {"json"}, "maxlag": {strconv.Itoa(f.maxlag)},
	}
	a, err := f.get(ctx, w, params)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && (ae.Code == "nosuchrevid" || ae.Code == "missingtitle") {
			return pageResult{missing: true, at: time.Now()}
		}
		return pageResult{err: err}
	}
	images, id, err := decodeParse(a.body)
	if err != nil {
		return pageResult{err: a.fail(err)}
	}
	return pageResult{id: id, images: images, at: a.at}
}

// decodeParse returns the images ("File:Name with spaces.jpg", sorted) and
// page id of a parse answer.
func decodeParse(body []byte) ([]string, int64, error) {
	var a parseAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, 0, unexpected(err, body)
	}
	switch {
	case a.Parse == nil:
		return nil, 0, unexpected(errors.New(`no "parse"`), body)
	case a.Parse.PageID <= 0:
		return nil, 0, unexpected(errors.New(`no "pageid"`), body)
	case a.Parse.Images == nil:
		return nil, 0, unexpected(errors.New(`no "images"`), body)
	}
	out := make([]string, 0, len(*a.Parse.Images))
	for _, name := range *a.Parse.Images {
		name = strings.TrimSpace(strings.ReplaceAll(name, "_", " "))
		if name == "" {
			return nil, 0, unexpected(errors.New("an image without name"), body)
		}
		out = append(out, "File:"+name)
	}
	return sortedUnique(out), a.Parse.PageID, nil
}
