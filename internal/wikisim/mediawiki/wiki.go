package mediawiki

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// PageRef names a page of one wiki. An empty Host means every wiki.
type PageRef struct {
	Host  string // e.g. "en.wikipedia.org"
	Title string // normalized when stored
}

// redirectPrefix starts the titles that redirect by default: "Redirect to X"
// redirects to X.
const redirectPrefix = "Redirect to "

// Wiki is the state of every simulated wiki: which pages are missing or
// redirect, each page's latest revision, and which page each known revision
// and page id belongs to. Everything else is generated (see PageID, Images).
// Its methods are safe for concurrent use and take effect on the next
// request. Titles are normalized (NormalizeTitle) and hosts lower-cased.
//
// The rules, for any host and title:
//   - The page exists unless its title starts with "Missing" or it was set
//     missing (Options.Missing, SetMissing).
//   - "Redirect to X" is a redirect to X, and so is any title given a target
//     with Options.Redirects or SetRedirect. A redirect page shows no images.
//   - Its latest revision is DefaultLatestRevision until SetLatestRevision;
//     its current images are Images at that revision.
//   - A revision id belongs to the page it was last registered for (by
//     AddRevisions, SetLatestRevision, or by the server reporting that page's
//     latest revision); an unregistered positive id N belongs to the page
//     "Revision N", and ids <= 0 or set missing do not exist.
//   - A page id (for pageids=) is known once the page was named by title
//     (in a request or a method here); an unknown id is a missing page. A
//     page deleted (Delete) and created again has a new id.
//   - With a Timeline (Options.Timeline), the pages and revisions it knows
//     evolve by it instead: images, existence and id (timeline.go).
//
// The registries grow with every page named, a few dozen bytes each.
type Wiki struct {
	mu          sync.Mutex
	missing     map[PageRef]bool
	redirects   map[PageRef]string
	latest      map[PageRef]int64
	revs        map[string]map[int64]string // host → revision id → title
	ids         map[string]map[int64]string // host → page id → title
	missingRevs map[int64]bool
	deletions   map[string][]deletion // host → its deletion log (logevents.go)
	recreated   map[PageRef]int       // deletions of a page: each recreation has a new id
	timeline    Timeline              // nil: pages change only as told (timeline.go)
}

// NewWiki returns a Wiki with only the default rules.
func NewWiki() *Wiki {
	return &Wiki{
		missing:     map[PageRef]bool{},
		redirects:   map[PageRef]string{},
		latest:      map[PageRef]int64{},
		revs:        map[string]map[int64]string{},
		ids:         map[string]map[int64]string{},
		missingRevs: map[int64]bool{},
		deletions:   map[string][]deletion{},
		recreated:   map[PageRef]int{},
	}
}

func ref(host, title string) PageRef {
	host, title = norm(host, title)
	return PageRef{Host: host, Title: title}
}

// SetMissing makes the page missing (deleted) or, with false, undoes it.
// An empty host means every wiki.
func (w *Wiki) SetMissing(host, title string, missing bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if missing {
		w.missing[ref(host, title)] = true
	} else {
		delete(w.missing, ref(host, title))
	}
}

// SetRedirect makes the page from redirect to the page to; an empty to
// removes the setting (the "Redirect to " rule still applies). An empty host
// means every wiki.
func (w *Wiki) SetRedirect(host, from, to string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if to == "" {
		delete(w.redirects, ref(host, from))
	} else {
		w.redirects[ref(host, from)] = NormalizeTitle(to)
	}
}

// SetRevisionMissing makes revision id rev not exist on any wiki (or, with
// false, exist again).
func (w *Wiki) SetRevisionMissing(rev int64, missing bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if missing {
		w.missingRevs[rev] = true
	} else {
		delete(w.missingRevs, rev)
	}
}

// SetLatestRevision makes rev the page's latest revision (and registers it).
func (w *Wiki) SetLatestRevision(host, title string, rev int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := ref(host, title)
	w.latest[p] = rev
	w.register(p, rev)
}

// AddRevisions registers revs as revisions of the page, for action=parse.
func (w *Wiki) AddRevisions(host, title string, revs ...int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.register(ref(host, title), revs...)
}

// LatestRevision is the page's latest revision id; it registers it.
func (w *Wiki) LatestRevision(host, title string) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latestLocked(ref(host, title))
}

// Exists reports whether the page exists (redirect pages do).
func (w *Wiki) Exists(host, title string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.exists(ref(host, title))
}

// RedirectTarget is the title the page redirects to, if it is a redirect.
func (w *Wiki) RedirectTarget(host, title string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.target(ref(host, title))
}

// CurrentImages is what prop=images answers for the page: Images at its
// latest revision, or nil for a missing or redirect page.
func (w *Wiki) CurrentImages(host, title string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := ref(host, title)
	if !w.exists(p) {
		return nil
	}
	if _, ok := w.target(p); ok {
		return nil
	}
	return images(p.Host, p.Title, w.latestLocked(p))
}

// RevisionPage is the title of the page revision rev belongs to on host,
// and false if the revision does not exist.
func (w *Wiki) RevisionPage(host string, rev int64) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rev <= 0 || w.missingRevs[rev] {
		return "", false
	}
	if t, ok := w.revs[strings.ToLower(host)][rev]; ok {
		return t, true
	}
	return fmt.Sprintf("Revision %d", rev), true
}

// pageInfo is what the API reports about one page.
type pageInfo struct {
	title    string // normalized
	ns       int
	id       int64
	exists   bool
	redirect bool
	target   string   // if redirect
	images   []string // current images, if it exists and is no redirect
}

// lookup reports on a page of host (lower-case) by normalized title.
func (w *Wiki) lookup(host, title string, ns int) pageInfo {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := PageRef{Host: host, Title: title}
	info := pageInfo{title: title, ns: ns, id: w.idOf(p), exists: w.exists(p)}
	if !info.exists {
		return info
	}
	if info.target, info.redirect = w.target(p); info.redirect {
		return info
	}
	if st, ok := w.nowOf(host, title); ok {
		info.id, info.exists = genID(host, title, st.Gen), !st.Deleted
		if info.exists {
			info.images = images(host, title, st.Step)
		}
		return info
	}
	info.images = images(host, title, w.latestLocked(p))
	return info
}

// pageByID is the title of a known page id.
func (w *Wiki) pageByID(host string, id int64) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.ids[host][id]
	return t, ok
}

// remember makes the page's id known, for pageids=.
func (w *Wiki) remember(p PageRef) int64 {
	id := w.idOf(p)
	if w.ids[p.Host] == nil {
		w.ids[p.Host] = map[int64]string{}
	}
	w.ids[p.Host][id] = p.Title
	return id
}

func (w *Wiki) register(p PageRef, revs ...int64) {
	w.remember(p)
	if w.revs[p.Host] == nil {
		w.revs[p.Host] = map[int64]string{}
	}
	for _, r := range revs {
		w.revs[p.Host][r] = p.Title
	}
}

func (w *Wiki) latestLocked(p PageRef) int64 {
	rev, ok := w.latest[p]
	if !ok {
		rev = DefaultLatestRevision(p.Host, p.Title)
		w.latest[p] = rev
		w.register(p, rev)
	}
	return rev
}

func (w *Wiki) exists(p PageRef) bool {
	w.remember(p)
	return !strings.HasPrefix(p.Title, "Missing") && !w.missing[p] && !w.missing[PageRef{Title: p.Title}]
}

func (w *Wiki) target(p PageRef) (string, bool) {
	if t, ok := w.redirects[p]; ok {
		return t, true
	}
	if t, ok := w.redirects[PageRef{Title: p.Title}]; ok {
		return t, true
	}
	if rest, ok := strings.CutPrefix(p.Title, redirectPrefix); ok {
		if t, _, bad := normalize(rest); bad == "" {
			return t, true
		}
	}
	return "", false
}

// idOf is the id of the page now at p: PageID, or after p was deleted n
// times (Delete), the id of its n-th recreation.
func (w *Wiki) idOf(p PageRef) int64 { return genID(p.Host, p.Title, w.recreated[p]) }

// genID is the id of the page at host and title after gen recreations.
func genID(host, title string, gen int) int64 {
	if gen == 0 {
		return pageID(host, title)
	}
	return int64(hash("pageid", host, title, strconv.Itoa(gen))%(1<<31)) + 1
}
