package mediawiki

import (
	"fmt"
	"hash/fnv"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// The generated wiki. Everything here is a pure function of its arguments,
// so a test computes the truth without asking the server.

// fileWords name the generated files; no word is a prefix of another, so
// sorting names with spaces or with underscores gives the same order.
var fileWords = [...]string{
	"Aerial view", "Bridge", "Castle", "Cathedral", "Coat of arms", "Diagram",
	"Flag", "Harbour", "Lighthouse", "Locator map", "Logo", "Market",
	"Mountain", "Old town", "Portrait", "Poster", "Railway station", "River",
	"Signature", "Skyline", "Stadium", "Statue", "Street", "Town hall",
}

var fileExts = [...]string{"jpg", "jpg", "jpg", "png", "svg"}

// slots is how many different files one page can show over its history.
const slots = 8

// hash returns a well-mixed stable 64-bit hash of parts.
func hash(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	x := h.Sum64()
	// splitmix64 finaliser: FNV's low bits alone are weak.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// PageID is the page id of title (normalized first) on the wiki host: a
// stable hash of both, in 1..2^31. Distinct titles can share an id, rarely.
// A page deleted and created again (Wiki.Delete) has another id.
func PageID(host, title string) int64 { return pageID(norm(host, title)) }

// DefaultLatestRevision is the latest revision id of a page whose latest
// revision was not set: a stable hash of host and title, in
// 100000000..1099999999.
func DefaultLatestRevision(host, title string) int64 {
	host, title = norm(host, title)
	return int64(hash("latest", host, title)%1_000_000_000) + 100_000_000
}

// Imageless reports whether the page never shows an image in any revision:
// about one page in eight, chosen by hashing host and title.
func Imageless(host, title string) bool { return imageless(norm(host, title)) }

// Images is the list of files shown by revision rev of title (normalized
// first) on host, as the API names them ("File:Harbour 3.jpg"), sorted as
// MediaWiki sorts them (by the name with underscores); nil if rev <= 0 or
// the page is Imageless.
//
// A page draws from 8 files of its own. Revision rev shows the files
// selected by the bits of the Gray code of (rev + a per-page offset) mod
// 256, so it shows 0 to 8 files and revision rev+1 shows exactly one file
// more or one fewer than revision rev. Images knows nothing of missing pages
// and redirects; see Wiki for those.
func Images(host, title string, rev int64) []string {
	host, title = norm(host, title)
	return images(host, title, rev)
}

// norm lower-cases host and normalizes title (an invalid one stays as is).
func norm(host, title string) (string, string) {
	return strings.ToLower(host), NormalizeTitle(title)
}

func pageID(host, title string) int64 { return int64(hash("pageid", host, title)%(1<<31)) + 1 }

func imageless(host, title string) bool { return hash("imageless", host, title)%8 == 0 }

// images is Images for a lower-case host and a normalized title.
func images(host, title string, rev int64) []string {
	if rev <= 0 || imageless(host, title) {
		return nil
	}
	step := (hash("offset", host, title) + uint64(rev)) % 256
	mask := uint8(step ^ step>>1)
	out := make([]string, 0, bits.OnesCount8(mask))
	for k := range slots {
		if mask&(1<<k) == 0 {
			continue
		}
		h := hash("file", host, title, strconv.Itoa(k))
		word := fileWords[h%uint64(len(fileWords))]
		ext := fileExts[(h>>32)%uint64(len(fileExts))]
		out = append(out, fmt.Sprintf("File:%s %d.%s", word, k+1, ext))
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(dbKey(a), dbKey(b)) })
	return out
}

// dbKey is a title's database form: underscores for spaces.
func dbKey(title string) string { return strings.ReplaceAll(title, " ", "_") }
