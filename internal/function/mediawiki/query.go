package mediawiki

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxRounds bounds the continuation requests of one batch; a real answer
// needs at most a few hundred (50 pages, 500 images per answer).
const maxRounds = 10000

// queryTitles asks action=query&prop=images for titles (at most 50, no
// repeats) and follows continuation to the end. The error is the whole
// batch's; a title's own problem is in its pageResult.
func (f *pageImages) queryTitles(ctx context.Context, w *wiki, titles []string) (map[string]pageResult, error) {
	base := url.Values{
		"action": {"query"}, "prop": {"images"}, "titles": {joinTitles(titles)}, "imlimit": {"max"},
		"redirects": {"1"}, "formatversion": {"2"}, "format": {"json"}, "maxlag": {strconv.Itoa(f.maxlag)},
	}
	acc := newPageSet()
	params := base
	var at time.Time
	for round := 1; ; round++ {
		a, err := f.get(ctx, w, params)
		if err != nil {
			return nil, err
		}
		cont, err := acc.merge(a.body)
		if err != nil {
			return nil, a.fail(err)
		}
		at = a.at
		if cont == nil {
			break
		}
		next := maps.Clone(base)
		for k, v := range cont {
			next.Set(k, v)
		}
		switch {
		case maps.EqualFunc(next, params, func(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }):
			return nil, a.fail(errors.New("unexpected answer: continue does not advance"))
		case round == maxRounds:
			return nil, a.fail(fmt.Errorf("unexpected answer: still continuing after %d requests", maxRounds))
		}
		params = next
	}
	return acc.resolve(titles, at), nil
}

// joinTitles joins titles with "|", or, if one contains "|", with U+001F
// as the API allows, so each title stays one value.
func joinTitles(titles []string) string {
	for _, t := range titles {
		if strings.Contains(t, "|") {
			return "\x1f" + strings.Join(titles, "\x1f")
		}
	}
	return strings.Join(titles, "|")
}

// The formatversion=2 answer of action=query&prop=images.
type (
	queryAnswer struct {
		Continue map[string]json.RawMessage `json:"continue"`
		Query    *struct {
			Normalized []fromTo    `json:"normalized"`
			Redirects  []fromTo    `json:"redirects"`
			Interwiki  []interwiki `json:"interwiki"`
			Pages      []queryPage `json:"pages"`
		} `json:"query"`
	}
	fromTo struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	interwiki struct {
		Title string `json:"title"`
		IW    string `json:"iw"`
	}
	queryPage struct {
		PageID        int64  `json:"pageid"`
		Title         string `json:"title"`
		Missing       bool   `json:"missing"`
		Invalid       bool   `json:"invalid"`
		InvalidReason string `json:"invalidreason"`
		Special       bool   `json:"special"`
		Images        []struct {
			Title string `json:"title"`
		} `json:"images"`
	}
)

// pageSet gathers the answers of one batch across continuation.
type pageSet struct {
	normalized, redirects, interwiki map[string]string
	pages                            map[string]*queryPage
}

func newPageSet() *pageSet {
	return &pageSet{normalized: map[string]string{}, redirects: map[string]string{},
		interwiki: map[string]string{}, pages: map[string]*queryPage{}}
}

// merge adds one answer and returns its continue parameters (nil if the
// answer is the last).
func (ps *pageSet) merge(body []byte) (map[string]string, error) {
	var a queryAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, unexpected(err, body)
	}
	if a.Query == nil && a.Continue == nil {
		return nil, unexpected(errors.New(`no "query"`), body)
	}
	if q := a.Query; q != nil {
		for _, n := range q.Normalized {
			ps.normalized[n.From] = n.To
		}
		for _, r := range q.Redirects {
			ps.redirects[r.From] = r.To
		}
		for _, iw := range q.Interwiki {
			ps.interwiki[iw.Title] = iw.IW
		}
		for _, p := range q.Pages {
			if p.Title == "" {
				return nil, unexpected(errors.New("a page without title"), body)
			}
			have := ps.pages[p.Title]
			if have == nil {
				have = &queryPage{Title: p.Title}
				ps.pages[p.Title] = have
			}
			have.PageID = max(have.PageID, p.PageID)
			have.Missing = have.Missing || p.Missing
			have.Invalid, have.Special = have.Invalid || p.Invalid, have.Special || p.Special
			if p.InvalidReason != "" {
				have.InvalidReason = p.InvalidReason
			}
			for _, im := range p.Images {
				if im.Title == "" {
					return nil, unexpected(fmt.Errorf("an image of %q without title", p.Title), body)
				}
			}
			have.Images = append(have.Images, p.Images...)
		}
	}
	if a.Continue == nil {
		return nil, nil
	}
	cont := make(map[string]string, len(a.Continue))
	for k, raw := range a.Continue {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			var n json.Number
			if err := json.Unmarshal(raw, &n); err != nil {
				return nil, unexpected(fmt.Errorf("continue.%s is neither string nor number", k), body)
			}
			s = n.String()
		}
		cont[k] = s
	}
	return cont, nil
}

// resolve maps each title asked to its page: title → normalized →
// redirect target.
func (ps *pageSet) resolve(titles []string, at time.Time) map[string]pageResult {
	out := make(map[string]pageResult, len(titles))
	for _, t := range titles {
		name := t
		if n, ok := ps.normalized[name]; ok {
			name = n
		}
		if r, ok := ps.redirects[name]; ok {
			name = r
		}
		p, ok := ps.pages[name]
		r := pageResult{at: at}
		switch {
		case !ok && (ps.interwiki[t] != "" || ps.interwiki[name] != ""):
			r.err = fmt.Errorf("title %q is an interwiki link, not a page of this wiki", t)
		case !ok:
			r.err = fmt.Errorf("unexpected answer: title %q (as %q) is not in it", t, name)
		case p.Invalid:
			r.err = fmt.Errorf("invalid title %q: %s", t, p.InvalidReason)
		case p.Missing || p.Special:
			r.missing = true
		case p.PageID <= 0:
			r.err = fmt.Errorf("unexpected answer: page %q has no pageid", name)
		default:
			r.id = p.PageID
			r.images = make([]string, 0, len(p.Images))
			for _, im := range p.Images {
				r.images = append(r.images, im.Title)
			}
			r.images = sortedUnique(r.images)
		}
		out[t] = r
	}
	return out
}
