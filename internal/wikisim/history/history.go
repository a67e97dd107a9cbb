// Package history makes the pages of a looped recording evolve, for the
// offline demo. The recorded real recentchange events are replayed in loops
// (eventstreams), and on their own every loop edits the same pages to the
// same revisions: a table of the pages' images would never change. A
// History gives each loop's edits new revision ids, turns some edits into
// deletions (Rewrite, for eventstreams.Options), and tells the simulated
// MediaWiki API what each page is like after each edit (it is a
// mediawiki.Timeline):
//
//   - one edit of a page in three adds or removes one of its images (the
//     page's files and which edits change them are seeded by its wiki and
//     title; a page that never shows images stays so);
//   - one page in DeletedOneIn is deleted in one of the first
//     FirstDeletion loops and then every DeletionPeriod loops, at its
//     first edit of that loop, whose event becomes a log event of type
//     delete; its next edit creates it again, as a new page (event type
//     new, another page id).
//
// Loop 0 is the recording as is. Everything is a function of the recording
// and the replay offset, so a restarted demo goes on with the same history;
// the one piece of state is the latest offset sent, which is "now" for
// action=query (Now).
package history

import (
	"encoding/json"
	"hash/fnv"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

const (
	// ChangeOneIn is the share of a page's edits that change its images.
	ChangeOneIn = 3
	// DeletedOneIn is the share of pages deleted from time to time.
	DeletedOneIn = 12
	// FirstDeletion bounds the loop of a deleted page's first deletion (so
	// that an hour of history at one event a second, 35 loops, has them
	// all), and DeletionPeriod is how many loops apart the later ones are
	// (10 minutes at 50 events a second): rare enough that the deletion
	// log's requests do not slow the function at high rates.
	FirstDeletion  = 30
	DeletionPeriod = 300
	// logIDBase plus the replay offset is a deletion's log id.
	logIDBase = 160_000_000
)

// History is the evolution of one recording's pages. Its methods are safe
// for concurrent use.
type History struct {
	clock func(n int64) time.Time
	l     int64                   // events in the recording
	evs   []edit                  // by recorded index
	pages map[pageRef]*page       // by wiki host and normalized title
	wikis map[string]*revisionSet // by host
	sent  atomic.Int64            // the latest offset sent, plus one; 0: none
}

type pageRef struct{ host, title string }

// page is a page edited in the recording.
type page struct {
	ref       pageRef
	wiki      string  // the wiki's database name (enwiki)
	ns        int64   // namespace
	at        []int64 // the recorded indexes of its edits, in order
	phase     int64   // of its image changes
	deleteIn  int64   // 0: never deleted; else in loops deleteIn, deleteIn + DeletionPeriod, ...
	imageless bool
}

// edit is one recorded event: an edit of a page, or not (p nil).
type edit struct {
	p    *page
	rank int64 // among the page's edits
	new  int64 // revision.new
}

// revisionSet maps a wiki's revision ids to recorded edits: loop k's id is
// the recorded one plus k strides, the span of the recorded ids.
type revisionSet struct {
	min, max, stride int64
	index            map[int64]int64 // recorded revision.new → recorded index
}

// New returns the History of the recorded events (as eventstreams.Load
// gives them), replayed with clock giving the time of each offset (as
// eventstreams.Options.Clock; nil: only Deletions' times need it). clock is
// asked only about offsets already sent.
func New(recorded [][]byte, clock func(n int64) time.Time) *History {
	h := &History{clock: clock, l: int64(len(recorded)), evs: make([]edit, len(recorded)),
		pages: map[pageRef]*page{}, wikis: map[string]*revisionSet{}}
	for i, raw := range recorded {
		var ev struct {
			Type      string `json:"type"`
			Namespace int64  `json:"namespace"`
			Title     string `json:"title"`
			Wiki      string `json:"wiki"`
			ServerURL string `json:"server_url"`
			Revision  struct {
				Old int64 `json:"old"`
				New int64 `json:"new"`
			} `json:"revision"`
		}
		if json.Unmarshal(raw, &ev) != nil || ev.Revision.New <= 0 || ev.Title == "" || (ev.Type != "edit" && ev.Type != "new") {
			continue
		}
		u, err := url.Parse(ev.ServerURL)
		if err != nil || u.Hostname() == "" {
			continue
		}
		ref := pageRef{strings.ToLower(u.Hostname()), mediawiki.NormalizeTitle(ev.Title)}
		p := h.pages[ref]
		if p == nil {
			p = &page{ref: ref, wiki: ev.Wiki, ns: ev.Namespace, phase: int64(seed(ref, "phase") % ChangeOneIn),
				imageless: mediawiki.Imageless(ref.host, ref.title)}
			if seed(ref, "deleted")%DeletedOneIn == 0 && ev.Namespace == 0 {
				p.deleteIn = 1 + int64(seed(ref, "when")%(FirstDeletion-1))
			}
			h.pages[ref] = p
		}
		h.evs[i] = edit{p: p, rank: int64(len(p.at)), new: ev.Revision.New}
		p.at = append(p.at, int64(i))
		w := h.wikis[ref.host]
		if w == nil {
			w = &revisionSet{min: ev.Revision.New, index: map[int64]int64{}}
			h.wikis[ref.host] = w
		}
		w.index[ev.Revision.New] = int64(i)
		w.min, w.max = min(w.min, ev.Revision.New), max(w.max, ev.Revision.New)
	}
	for _, w := range h.wikis { // loop k+1's ids are past all of loop k's
		w.stride = w.max - w.min + 1
	}
	return h
}

// seed is a stable, well-mixed hash of a page and a purpose.
func seed(p pageRef, purpose string) uint64 {
	f := fnv.New64a()
	for _, s := range []string{purpose, p.host, p.title} {
		_, _ = f.Write([]byte(s))
		_, _ = f.Write([]byte{0})
	}
	x := f.Sum64()
	x ^= x >> 31
	x *= 0x9e3779b97f4a7c15
	return x ^ x>>29
}

// position is the r-th edit of a page (from 0) in loop k.
type position struct{ k, r int64 }

func (p *page) offset(pos position, l int64) int64 { return pos.k*l + p.at[pos.r] }

// deletionLoop reports whether the page is deleted in loop k.
func (p *page) deletionLoop(k int64) bool {
	return p.deleteIn > 0 && k >= p.deleteIn && (k-p.deleteIn)%DeletionPeriod == 0
}

// deletionsBefore counts the page's deletions in loops before k.
func (p *page) deletionsBefore(k int64) int64 {
	if p.deleteIn == 0 || k <= p.deleteIn {
		return 0
	}
	return (k-p.deleteIn-1)/DeletionPeriod + 1
}

// deleted reports whether the event at pos is the page's deletion.
func (p *page) deleted(pos position) bool { return pos.r == 0 && p.deletionLoop(pos.k) }

// recreated reports whether the event at pos creates the page again.
func (p *page) recreated(pos position) bool {
	n := int64(len(p.at))
	return pos.r == 1 && p.deletionLoop(pos.k) || n == 1 && pos.r == 0 && p.deletionLoop(pos.k-1)
}

// state is the page as of the event at pos.
func (p *page) state(pos position, rev int64) mediawiki.State {
	m := pos.k*int64(len(p.at)) + pos.r // the page's edits before
	s := mediawiki.State{Rev: rev, Step: 1 + (m+p.phase)/ChangeOneIn, Gen: int(p.deletionsBefore(pos.k))}
	if p.deletionLoop(pos.k) {
		if pos.r == 0 {
			s.Deleted = true
		} else {
			s.Gen++
		}
	}
	return s
}

// changes reports whether the event at pos changes the page's images.
func (p *page) changes(pos position) bool {
	m := pos.k*int64(len(p.at)) + pos.r
	return m > 0 && (m+p.phase)%ChangeOneIn == 0 && !p.imageless
}

// previous is the revision id of the page's edit before pos, 0 if none.
func (h *History) previous(p *page, pos position) int64 {
	switch {
	case pos.r > 0:
		pos.r--
	case pos.k > 0:
		pos = position{pos.k - 1, int64(len(p.at)) - 1}
	default:
		return 0
	}
	if p.deleted(pos) {
		return 0
	}
	return h.wikis[p.ref.host].rev(h.evs[p.at[pos.r]].new, pos.k)
}

// rev is the revision id of recorded revision r in loop k.
func (w *revisionSet) rev(r, k int64) int64 {
	if r <= 0 {
		return 0
	}
	return r + k*w.stride
}

// Revision implements mediawiki.Timeline.
func (h *History) Revision(host string, rev int64) (string, mediawiki.State, bool) {
	w := h.wikis[host]
	if w == nil || rev < w.min {
		return "", mediawiki.State{}, false
	}
	k := (rev - w.min) / w.stride
	i, ok := w.index[rev-k*w.stride]
	if !ok {
		return "", mediawiki.State{}, false
	}
	e := h.evs[i]
	pos := position{k, e.rank}
	if e.p.deleted(pos) {
		return "", mediawiki.State{}, false // the event is the deletion: no such revision
	}
	return e.p.ref.title, e.p.state(pos, rev), true
}

// Now implements mediawiki.Timeline: the page as of its latest edit sent.
func (h *History) Now(host, title string) (mediawiki.State, bool) {
	p := h.pages[pageRef{host, title}]
	pos, ok := h.latest(p)
	if !ok {
		return mediawiki.State{}, false
	}
	e := h.evs[p.at[pos.r]]
	return p.state(pos, h.wikis[host].rev(e.new, pos.k)), true
}

// latest is the position of the page's latest edit sent.
func (h *History) latest(p *page) (position, bool) {
	sent := h.sent.Load() - 1
	if p == nil || sent < 0 || h.l == 0 {
		return position{}, false
	}
	k, i := sent/h.l, sent%h.l
	for r := int64(len(p.at)) - 1; r >= 0; r-- {
		if p.at[r] <= i {
			return position{k, r}, true
		}
	}
	if k == 0 {
		return position{}, false
	}
	return position{k - 1, int64(len(p.at)) - 1}, true
}

// Deletions implements mediawiki.Timeline: the page's deletions sent.
func (h *History) Deletions(host, title string) []mediawiki.Deletion {
	p := h.pages[pageRef{host, title}]
	if p == nil || p.deleteIn == 0 || h.clock == nil {
		return nil
	}
	sent := h.sent.Load() - 1
	var out []mediawiki.Deletion
	for k, gen := p.deleteIn, 0; ; k, gen = k+DeletionPeriod, gen+1 {
		n := p.offset(position{k, 0}, h.l)
		if n > sent {
			return out
		}
		out = append(out, mediawiki.Deletion{LogID: logIDBase + n, Gen: gen, At: h.clock(n)})
	}
}

// Page names a page of the recording.
type Page struct {
	Wiki  string // database name: enwiki
	Host  string // en.wikipedia.org
	Title string
	ID    int64 // its page id (mediawiki.PageID)
}

// Changing is a page whose images change and which is never deleted, so
// one key of a table by page id holds its whole history: the first such
// page of the recording that is an article (namespace 0), or false if none.
func (h *History) Changing() (Page, bool) {
	for _, e := range h.evs {
		if p := e.p; p != nil && p.ns == 0 && p.deleteIn == 0 && !p.imageless {
			return Page{Wiki: p.wiki, Host: p.ref.host, Title: p.ref.title, ID: mediawiki.PageID(p.ref.host, p.ref.title)}, true
		}
	}
	return Page{}, false
}
