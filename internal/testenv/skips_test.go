package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A skip under cmd/sluice-test leaves a record; the report keeps the
// records of the packages that ran or were cached, drops those a package
// that ran no longer writes, and sums them up in a line.
func TestSkipReport(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(SkipsEnv, dir)
	t.Setenv("SLUICE_TEST_STRICT", "")
	old := filepath.Join(dir, "old.json") // a skip of an earlier run of this package
	if err := os.WriteFile(old, []byte(`{"package":"github.com/sluice-dev/sluice/internal/testenv","test":"TestGone","reason":"no chromium on PATH"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cached := filepath.Join(dir, "cached.json")
	if err := os.WriteFile(cached, []byte(`{"package":"example.com/cached","test":"TestDB","reason":"PostgreSQL not reachable at postgres://x: refused"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.json") // a package this run did not test
	if err := os.WriteFile(other, []byte(`{"package":"example.com/other","test":"TestX","reason":"python3 is not installed"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	for _, p := range []string{old, cached, other} {
		os.Chtimes(p, past, past)
	}
	r := NewReport(dir)
	t.Run("needs PostgreSQL", func(t *testing.T) { Skip(t, "PostgreSQL not reachable at postgres://127.0.0.1:5432 (refused)") })
	t.Run("needs python", func(t *testing.T) { Skip(t, "python3 is not installed: this test runs Python code") })
	fmt.Fprint(r, "ok  \tgithub.com/sluice-dev/sluice/internal/testenv\t0.1s\nok  \texample.com/cached\t(cac")
	fmt.Fprint(r, "hed)\n?   \texample.com/none\t[no test files]\n")
	skips, err := r.Skips()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range skips {
		got = append(got, s.Package+" "+s.Test)
	}
	want := "example.com/cached TestDB, github.com/sluice-dev/sluice/internal/testenv TestSkipReport/needs_PostgreSQL, github.com/sluice-dev/sluice/internal/testenv TestSkipReport/needs_python"
	if strings.Join(got, ", ") != want {
		t.Errorf("skips %q, want %q", strings.Join(got, ", "), want)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the stale record is still there: %v", err)
	}
	if line := Summary(skips); line != "sluice-test: 3 test(s) skipped, for want of PostgreSQL (2), python3 (1); SLUICE_TEST_STRICT=1 makes them fail" {
		t.Errorf("summary %q", line)
	}
	if line := Summary(nil); line != "sluice-test: no test skipped" {
		t.Errorf("summary %q", line)
	}
}
