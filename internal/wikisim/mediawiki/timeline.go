package mediawiki

import (
	"strings"
	"time"
)

// Pages that evolve. Without a Timeline, a page's images depend on its
// latest revision id alone, which only changes when a test says so; a
// Timeline (Options.Timeline) makes the pages of a replayed feed change as
// the feed edits them: each edit the timeline knows has a State, and the
// server answers by it.
//
//   - action=parse&oldid=REV answers the page as of REV: its images, and
//     the id the page had then (a revision of a page since deleted still
//     answers, as of itself, so that a replay processed late keeps the
//     history right).
//   - prop=images answers the page as it is now (Timeline.Now): missing
//     while deleted, with a new id once created again.
//   - list=logevents lists the timeline's deletions besides Delete's.
//
// Redirects and missing pages set by the rules of Wiki still win; a page
// or revision the timeline does not know follows those rules alone.

// Timeline says how pages evolve. Its methods are called by the server on
// every request, concurrently; they must be safe for that and quick.
type Timeline interface {
	// Revision is the page (normalized title) that revision rev of host
	// (lower-case) belongs to and its state as of rev; false if rev is
	// not the timeline's.
	Revision(host string, rev int64) (title string, s State, ok bool)
	// Now is the page's state now; false if the timeline does not know it.
	Now(host, title string) (State, bool)
	// Deletions are the page's deletions so far.
	Deletions(host, title string) []Deletion
}

// State is a page as of one edit.
type State struct {
	Rev     int64 // the latest revision
	Step    int64 // the page shows Images(host, title, Step): consecutive steps differ by one file
	Gen     int   // deletions before: the page has the id of its Gen-th recreation (PageIDGen)
	Deleted bool  // deleted, and not created again yet
}

// Deletion is one entry of a page's deletion log.
type Deletion struct {
	LogID int64
	Gen   int // of the deleted page: its id was PageIDGen(host, title, Gen)
	At    time.Time
}

// PageIDGen is the id of a page after gen deletions and recreations of its
// title: PageID for gen 0.
func PageIDGen(host, title string, gen int) int64 {
	host, title = norm(host, title)
	return genID(host, title, gen)
}

// parseAsOf is action=parse's answer for a revision of the timeline: the
// page as of rev, unless the rules of Wiki make it missing or a redirect;
// false if rev is not the timeline's.
func (w *Wiki) parseAsOf(host string, rev int64) (parseOut, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timeline == nil || w.missingRevs[rev] {
		return parseOut{}, false, nil
	}
	title, st, ok := w.timeline.Revision(host, rev)
	if !ok {
		return parseOut{}, false, nil
	}
	p := PageRef{Host: host, Title: title}
	if !w.exists(p) {
		return parseOut{}, true, &apiError{Code: "missingtitle", Info: "The page you specified doesn't exist."}
	}
	out := parseOut{Title: title, PageID: genID(host, title, st.Gen), RevID: rev, Images: []string{}}
	if _, redirect := w.target(p); redirect {
		return out, true, nil
	}
	for _, file := range images(host, title, st.Step) {
		out.Images = append(out.Images, dbKey(strings.TrimPrefix(file, "File:")))
	}
	return out, true, nil
}

// nowOf is the timeline's state of the page now, if it has one.
func (w *Wiki) nowOf(host, title string) (State, bool) {
	if w.timeline == nil {
		return State{}, false
	}
	return w.timeline.Now(host, title)
}
