package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/testenv"
	pysdk "github.com/sluice-dev/sluice/sdk/python"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String() + errOut.String(), err
}

func exists(t *testing.T, dir string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// The Python scaffold's unit tests pass as generated.
func TestFunctionInitPython(t *testing.T) {
	dir := t.TempDir()
	out, err := runCLI(t, "function", "init", "word_count", "--dir", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	exists(t, dir, "functions/word_count.py", "functions/test_word_count.py", "functions/sluice_function.py",
		"tests/word_count.yaml", "sluice.yaml", "schemas/word_count.in.json", "schemas/word_count.out.json")
	if sdk, _ := os.ReadFile(filepath.Join(dir, "functions/sluice_function.py")); !bytes.Equal(sdk, pysdk.SDK) {
		t.Error("functions/sluice_function.py is not the SDK")
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "sluice.yaml"))
	for _, want := range []string{"command: [python3, functions/word_count.py]", "function: {name: word_count}", "schema: schemas/word_count.in.json"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("sluice.yaml has no %q:\n%s", want, cfg)
		}
	}
	if !strings.Contains(out, "python3 -m unittest") {
		t.Errorf("no next steps:\n%s", out)
	}
	testenv.Unittest(t, filepath.Join(dir, "functions"))
	// tests/word_count.yaml, with the function run as a process
	t.Run("sluice test", func(t *testing.T) { sluiceTestPasses(t, dir) })
}

// The Go scaffold's unit tests pass as generated, in a module that uses
// this checkout of sluice.
func TestFunctionInitGo(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		testenv.Skip(t, "the go command is not on PATH")
	}
	dir := t.TempDir()
	out, err := runCLI(t, "function", "init", "word_count", "--lang", "go", "--dir", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	exists(t, dir, "functions/word_count/main.go", "functions/word_count/main_test.go", "functions/word_count/.gitignore", "tests/word_count.yaml", "sluice.yaml")
	if !strings.Contains(out, "go mod init") {
		t.Errorf("no go.mod hint without a go.mod:\n%s", out)
	}
	repo, _ := filepath.Abs("../..")
	goMod := "module example.com/fns\n\ngo 1.26\n\nrequire github.com/sluice-dev/sluice v0.0.0\n\nreplace github.com/sluice-dev/sluice => " + repo + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(goMod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum")) // sluice's own sums cover what sluicefn needs
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	goCmd := func(args ...string) {
		t.Helper()
		cmd := exec.Command(goBin, args...)
		cmd.Dir = dir
		// only the module cache: the modules this checkout builds with are there
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	goCmd("test", "-count=1", "./functions/word_count/")
	goCmd("build", "-o", filepath.Join(dir, "functions/word_count/word_count"), "./functions/word_count/")
	t.Run("sluice test", func(t *testing.T) { sluiceTestPasses(t, dir) })
}

func TestFunctionInitExistingProject(t *testing.T) {
	dir := t.TempDir()
	mine := []byte("# my project\nstreams: {}\n")
	if err := os.WriteFile(filepath.Join(dir, "sluice.yaml"), mine, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "function", "init", "enrich", "--dir", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "sluice.yaml")); !bytes.Equal(got, mine) {
		t.Errorf("sluice.yaml changed:\n%s", got)
	}
	if !strings.Contains(out, "add these lines") || !strings.Contains(out, "    functions:\n      enrich:") || strings.Contains(out, "streams:") {
		t.Errorf("no snippet to add:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "schemas")); err == nil {
		t.Error("schemas written into an existing project")
	}

	// again: the same files are kept as they are
	if out, err := runCLI(t, "function", "init", "enrich", "--dir", dir); err != nil || !strings.Contains(out, "kept  functions/enrich.py (as it is)") {
		t.Errorf("second init: got %v\n%s", err, out)
	}
	// a changed SDK copy is kept, and said so
	sdk := filepath.Join(dir, "functions", "sluice_function.py")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(sdk, "# patched\n")
	if out, err := runCLI(t, "function", "init", "enrich", "--dir", dir); err != nil || !strings.Contains(out, "yours differs") {
		t.Errorf("changed SDK: got %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(sdk); string(got) != "# patched\n" {
		t.Error("the changed SDK copy was overwritten")
	}
	// a changed function is in the way; --force overwrites it and the SDK copy
	fn := filepath.Join(dir, "functions", "enrich.py")
	write(fn, "# mine\n")
	if _, err := runCLI(t, "function", "init", "enrich", "--dir", dir); err == nil || !strings.Contains(err.Error(), "enrich.py exists") {
		t.Errorf("changed function: got %v", err)
	}
	if got, _ := os.ReadFile(fn); string(got) != "# mine\n" {
		t.Error("a refused init wrote enrich.py")
	}
	if out, err := runCLI(t, "function", "init", "enrich", "--dir", dir, "--force"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got, _ := os.ReadFile(fn); string(got) == "# mine\n" {
		t.Error("--force did not overwrite enrich.py")
	}
	if got, _ := os.ReadFile(sdk); !bytes.Equal(got, pysdk.SDK) {
		t.Error("--force did not replace the SDK copy")
	}
}

func TestFunctionInitRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"function", "init", "Bad-Name", "--dir", dir}, "want [a-z][a-z0-9_]{0,63}"},
		{[]string{"function", "init", "x", "--lang", "rust", "--dir", dir}, "--lang: want python or go"},
		{[]string{"function", "init", "x", "--dir", filepath.Join(dir, "nope")}, "not a folder"},
		{[]string{"function", "init", "--dir", dir}, "sluice function init wants NAME (got 0 argument(s))"},
	} {
		if _, err := runCLI(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files written after refusals: %v", entries)
	}
}

// sluiceTestPasses runs `sluice test dir` and fails t unless every case
// passes.
func sluiceTestPasses(t *testing.T, dir string) {
	t.Helper()
	out, err := runCLI(t, "test", dir)
	if err != nil || !strings.Contains(out, " passed, 0 failed") {
		t.Fatalf("sluice test %s: %v\n%s", dir, err, out)
	}
	t.Logf("sluice test:\n%s", out)
}
