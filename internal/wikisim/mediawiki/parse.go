package mediawiki

import (
	"net/url"
	"strconv"
	"strings"
)

// parseResponse is the formatversion=2 shape of action=parse&prop=images.
type parseResponse struct {
	Parse parseOut `json:"parse"`
}

type parseOut struct {
	Title  string   `json:"title"`
	PageID int64    `json:"pageid"`
	RevID  int64    `json:"revid"`
	Images []string `json:"images"` // names with underscores, no "File:"
}

// parse answers action=parse&oldid=REV&prop=images: the files shown by that
// revision (none for a redirect page).
func (s *Server) parse(host string, f url.Values) (any, error) {
	if err := onlyProp(f, "images"); err != nil {
		return nil, err
	}
	for _, p := range []string{"page", "pageid", "title", "text"} {
		if f.Has(p) {
			return nil, unsupported("action=parse with " + p + "= is not simulated; use oldid=")
		}
	}
	v := f.Get("oldid")
	if v == "" {
		return nil, &apiError{Code: "missingparam", Info: `The "oldid" parameter must be set.`}
	}
	rev, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, badInteger("oldid", v)
	}
	if out, ok, err := s.wiki.parseAsOf(host, rev); err != nil {
		return nil, err
	} else if ok {
		return &parseResponse{Parse: out}, nil
	}
	title, ok := s.wiki.RevisionPage(host, rev)
	if !ok {
		return nil, &apiError{Code: "nosuchrevid", Info: "There is no revision with ID " + strconv.FormatInt(rev, 10) + "."}
	}
	info := s.wiki.lookup(host, title, namespaceOf(title))
	if !info.exists {
		return nil, &apiError{Code: "missingtitle", Info: "The page you specified doesn't exist."}
	}
	out := parseOut{Title: title, PageID: info.id, RevID: rev, Images: []string{}}
	if !info.redirect {
		for _, file := range images(host, title, rev) {
			out.Images = append(out.Images, dbKey(strings.TrimPrefix(file, "File:")))
		}
	}
	return &parseResponse{Parse: out}, nil
}
