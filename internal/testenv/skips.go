package testenv

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// SkipsEnv names the folder where Skip records each skip. cmd/sluice-test
// sets it, runs go test and sums the records up: in package-list mode go
// test prints nothing of a package that passed, skips and all.
const SkipsEnv = "SLUICE_TEST_SKIPS"

// Skipped is one test that Skip skipped.
type Skipped struct {
	Package string `json:"package"`
	Test    string `json:"test"`
	Reason  string `json:"reason"`
}

// record writes a skip to the SkipsEnv folder, one file per test, so that
// tests running at once in many processes never share a file.
func record(t testing.TB, reason string) {
	dir := os.Getenv(SkipsEnv)
	if dir == "" {
		return
	}
	s := Skipped{Package: testPackage(), Test: t.Name(), Reason: reason}
	b, err := json.Marshal(s)
	if err != nil {
		return
	}
	sum := sha256.Sum256([]byte(s.Package + "\x00" + s.Test))
	if os.MkdirAll(dir, 0o755) == nil {
		_ = os.WriteFile(filepath.Join(dir, hex.EncodeToString(sum[:12])+".json"), b, 0o644)
	}
}

// testPackage is the import path of the package under test: a test
// binary's main path is that path with ".test".
func testPackage() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return strings.TrimSuffix(bi.Path, ".test")
	}
	return "?"
}

// Report watches go test's output (it is an io.Writer) for the packages
// that ran and those whose result came from the cache, then reads the
// skips of this run from the SkipsEnv folder. A cached package did not run:
// its skips are the records of the run that was cached, kept for it.
type Report struct {
	Dir   string
	start time.Time

	mu      sync.Mutex
	partial []byte
	ran     map[string]bool // package -> false when cached
}

// NewReport starts a report of the run that starts now.
func NewReport(dir string) *Report {
	return &Report{Dir: dir, start: time.Now().Add(-time.Second), ran: map[string]bool{}}
}

func (r *Report) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.partial = append(r.partial, p...)
	for {
		i := bytes.IndexByte(r.partial, '\n')
		if i < 0 {
			break
		}
		r.line(string(r.partial[:i]))
		r.partial = r.partial[i+1:]
	}
	return len(p), nil
}

// line reads a package's result: "ok  \tPKG\t0.1s", "ok  \tPKG\t(cached)",
// "FAIL\tPKG\t0.1s".
func (r *Report) line(l string) {
	f := strings.Split(l, "\t")
	if len(f) < 3 || strings.TrimSpace(f[0]) != "ok" && f[0] != "FAIL" {
		return
	}
	r.ran[f[1]] = !strings.HasPrefix(f[2], "(cached)")
}

// Skips are the skips of the run, by package and test. Records of a
// package that ran but are older than the run are removed: that test no
// longer skips.
func (r *Report) Skips() ([]Skipped, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	entries, err := os.ReadDir(r.Dir)
	if os.IsNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var out []Skipped
	for _, e := range entries {
		p := filepath.Join(r.Dir, e.Name())
		info, err := e.Info()
		if err != nil || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(p)
		var s Skipped
		if err != nil || json.Unmarshal(b, &s) != nil {
			continue
		}
		fresh, seen := r.ran[s.Package]
		current := !info.ModTime().Before(r.start)
		switch {
		case seen && fresh && !current: // it ran and no longer skips that test
			os.Remove(p)
		case seen && !fresh, seen && current:
			out = append(out, s)
		case !seen && len(r.ran) == 0 && current: // no results read (go test -json): what this run wrote
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Package < out[j].Package || out[i].Package == out[j].Package && out[i].Test < out[j].Test
	})
	return out, nil
}

// needs name what a skip lacked, from the words of Skip's reasons.
var needs = []struct{ word, need string }{
	{"PostgreSQL", "PostgreSQL"}, {"chromium", "Chromium"}, {"python3", "python3"}, {"S3", "an S3 server"},
	{"eventsource", "npm eventsource"}, {"Node.js", "Node.js"}, {"go command", "the go command"}, {"go toolchain", "the go command"},
	{"tmpfs", "root (a tmpfs)"}, {"-short", "-short"},
}

// Need is what a skip's reason says was missing, in a word or two.
func Need(reason string) string {
	for _, n := range needs {
		if strings.Contains(reason, n.word) {
			return n.need
		}
	}
	if i := strings.IndexAny(reason, ":("); i > 0 {
		reason = reason[:i]
	}
	return strings.TrimSpace(reason[:min(len(reason), 40)])
}

// Summary is one line: how many tests skipped, for want of what.
func Summary(skips []Skipped) string {
	if len(skips) == 0 {
		return "sluice-test: no test skipped"
	}
	count := map[string]int{}
	var order []string
	for _, s := range skips {
		n := Need(s.Reason)
		if count[n] == 0 {
			order = append(order, n)
		}
		count[n]++
	}
	sort.Slice(order, func(i, j int) bool {
		return count[order[i]] > count[order[j]] || count[order[i]] == count[order[j]] && order[i] < order[j]
	})
	parts := make([]string, len(order))
	for i, n := range order {
		parts[i] = fmt.Sprintf("%s (%d)", n, count[n])
	}
	return fmt.Sprintf("sluice-test: %d test(s) skipped, for want of %s; SLUICE_TEST_STRICT=1 makes them fail", len(skips), strings.Join(parts, ", "))
}
