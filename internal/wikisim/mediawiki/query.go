package mediawiki

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The formatversion=2 shapes of action=query&prop=images, with the real
// API's key order.
type (
	queryResponse struct {
		BatchComplete bool         `json:"batchcomplete,omitempty"`
		Continue      *continueOut `json:"continue,omitempty"`
		Query         *queryOut    `json:"query,omitempty"`
	}
	continueOut struct {
		IMContinue string `json:"imcontinue"`
		Continue   string `json:"continue"`
	}
	queryOut struct {
		Normalized []normalizedOut `json:"normalized,omitempty"`
		Redirects  []redirectOut   `json:"redirects,omitempty"`
		Pages      []any           `json:"pages,omitempty"`
	}
	normalizedOut struct {
		FromEncoded bool   `json:"fromencoded"`
		From        string `json:"from"`
		To          string `json:"to"`
	}
	redirectOut struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	pageOut struct {
		PageID        int64      `json:"pageid,omitempty"`
		NS            *int       `json:"ns,omitempty"`
		Title         string     `json:"title"`
		InvalidReason string     `json:"invalidreason,omitempty"`
		Invalid       bool       `json:"invalid,omitempty"`
		Missing       bool       `json:"missing,omitempty"`
		Images        []imageOut `json:"images,omitempty"`
	}
	missingIDOut struct {
		PageID  int64 `json:"pageid"`
		Missing bool  `json:"missing"`
	}
	imageOut struct {
		NS    int    `json:"ns"`
		Title string `json:"title"`
	}
)

// entry is one page of the answer. The real API lists pages sorted by key:
// the page id, or for a missing or invalid title a fake id -1, -2, ...
// given in the order it met them.
type entry struct {
	key   int64
	out   any
	page  *pageOut // nil unless the page exists
	files []string // its current images
}

// pageSet resolves the titles or page ids of one request, like ApiPageSet.
type pageSet struct {
	w       *Wiki
	host    string
	follow  bool // &redirects
	q       queryOut
	entries []entry
	listed  map[string]bool // titles already among entries
	fake    int64
}

// query answers action=query&prop=images.
func (s *Server) query(host string, f url.Values) (any, error) {
	if f.Get("list") == "logevents" {
		return s.logEvents(host, f)
	}
	if err := onlyProp(f, "images"); err != nil {
		return nil, err
	}
	for _, p := range []string{"generator", "list", "meta"} {
		if f.Has(p) {
			return nil, unsupported(p + "= is not simulated")
		}
	}
	if f.Has("titles") && f.Has("pageids") {
		return nil, &apiError{Code: "invalidparammix",
			Info: `The parameters "titles" and "pageids" can not be used together.`}
	}
	titles, err := values(f, "titles")
	if err != nil {
		return nil, err
	}
	ids, err := values(f, "pageids")
	if err != nil {
		return nil, err
	}
	limit, err := s.imLimit(f)
	if err != nil {
		return nil, err
	}
	ps := &pageSet{w: s.wiki, host: host, follow: f.Has("redirects"), listed: map[string]bool{}}
	if err := ps.resolve(titles, ids); err != nil {
		return nil, err
	}
	resp := &queryResponse{BatchComplete: true}
	if len(ps.entries) == 0 {
		return resp, nil
	}
	slices.SortStableFunc(ps.entries, func(a, b entry) int { return cmp.Compare(a.key, b.key) })
	if resp.Continue, err = ps.images(f, limit); err != nil {
		return nil, err
	}
	resp.BatchComplete = resp.Continue == nil
	for _, e := range ps.entries {
		ps.q.Pages = append(ps.q.Pages, e.out)
	}
	resp.Query = &ps.q
	return resp, nil
}

// resolve lists the pages named by titles or page ids, following redirects
// one step if asked, as the real API does.
func (ps *pageSet) resolve(titles, ids []string) error {
	var found []pageInfo
	normalized := map[string]bool{}
	for _, raw := range titles {
		t, ns, bad := normalize(raw)
		if bad != "" {
			ps.fake--
			ps.entries = append(ps.entries, entry{key: ps.fake, out: &pageOut{Title: raw, InvalidReason: bad, Invalid: true}})
			continue
		}
		if t != raw && !normalized[raw] {
			normalized[raw] = true
			ps.q.Normalized = append(ps.q.Normalized, normalizedOut{From: raw, To: t})
		}
		found = append(found, ps.w.lookup(ps.host, t, ns))
	}
	seenIDs := map[int64]bool{}
	for _, raw := range ids {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return badInteger("pageids", raw)
		}
		if seenIDs[id] {
			continue
		}
		seenIDs[id] = true
		if t, ok := ps.w.pageByID(ps.host, id); ok {
			if info := ps.w.lookup(ps.host, t, namespaceOf(t)); info.exists {
				found = append(found, info)
				continue
			}
		}
		ps.entries = append(ps.entries, entry{key: id, out: &missingIDOut{PageID: id, Missing: true}})
	}
	var targets []pageInfo
	for _, p := range found {
		if p.redirect && ps.follow {
			ps.q.Redirects = append(ps.q.Redirects, redirectOut{From: p.title, To: p.target})
			t, ns, _ := normalize(p.target)
			targets = append(targets, ps.w.lookup(ps.host, t, ns))
			continue
		}
		ps.add(p)
	}
	for _, p := range targets {
		ps.add(p)
	}
	return nil
}

// add lists a page once.
func (ps *pageSet) add(p pageInfo) {
	if ps.listed[p.title] {
		return
	}
	ps.listed[p.title] = true
	ns := p.ns
	if !p.exists {
		ps.fake--
		ps.entries = append(ps.entries, entry{key: ps.fake, out: &pageOut{NS: &ns, Title: p.title, Missing: true}})
		return
	}
	out := &pageOut{PageID: p.id, NS: &ns, Title: p.title}
	ps.entries = append(ps.entries, entry{key: p.id, out: out, page: out, files: p.images})
}

// images gives each page its images, in page-id order (entries are sorted)
// and within a page by name, from the continuation point on and up to limit,
// and returns where the next request continues (nil if none).
func (ps *pageSet) images(f url.Values, limit int) (*continueOut, error) {
	cid, cname, cont, err := imContinue(f)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, e := range ps.entries {
		if e.page == nil || (cont && e.key < cid) {
			continue
		}
		for _, file := range e.files {
			name := dbKey(strings.TrimPrefix(file, "File:"))
			if cont && e.key == cid && name < cname {
				continue
			}
			if n == limit {
				return &continueOut{IMContinue: strconv.FormatInt(e.key, 10) + "|" + name, Continue: "||"}, nil
			}
			e.page.Images = append(e.page.Images, imageOut{NS: 6, Title: file})
			n++
		}
	}
	return nil, nil
}

// namespaceOf is the namespace number of a normalized title.
func namespaceOf(title string) int {
	_, ns, _ := normalize(title)
	return ns
}
