package cli

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/catalog"
	pysdk "github.com/sluice-dev/sluice/sdk/python"
)

//go:embed scaffold
var scaffoldFS embed.FS

func newFunction(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "function",
		Short: "Functions of your own (docs/FUNCTIONS.md): scaffold one with init",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newFunctionInit(g))
	cmd.AddCommand(defineCommands(g, catalog.Functions)...)
	return cmd
}

func newFunctionInit(g *globals) *cobra.Command {
	var lang, dir string
	var force bool
	cmd := &cobra.Command{
		Use:   "init NAME",
		Short: "Scaffold a function in a project: its code, a unit test, a `sluice test` case and its sluice.yaml",
		Long: "Writes, under DIR (the project's folder, with sluice.yaml):\n" +
			"  python: functions/NAME.py, functions/test_NAME.py and functions/sluice_function.py (the SDK, copied)\n" +
			"  go:     functions/NAME/main.go and functions/NAME/main_test.go (using sdk/go/sluicefn), and a\n" +
			"          .gitignore for the binary sluice runs (go build -o functions/NAME/NAME ./functions/NAME)\n" +
			"  tests/NAME.yaml, a `sluice test` case of the pipeline NAME\n" +
			"and, if DIR has no sluice.yaml, one declaring the function, streams NAME.in and NAME.out and\n" +
			"the pipeline NAME (with their schemas); if it has one, the lines to add to it are printed.\n" +
			"Existing files are left alone unless --force.",
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s := scaffold{Dir: dir, Name: args[0], Lang: lang, Force: force}
			res, err := s.write()
			if err != nil {
				return err
			}
			res.print(g.out, s)
			return nil
		},
	}
	cmd.Flags().StringVar(&lang, "lang", "python", "python or go")
	cmd.Flags().StringVar(&dir, "dir", ".", "the project's folder")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite files that exist")
	return cmd
}

// scaffoldName is stricter than a function name: the name is also a Python
// module and a Go package folder.
var scaffoldName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// scaffold is one `sluice function init`.
type scaffold struct {
	Dir, Name, Lang string
	Force           bool
	Streams         bool // the project has no sluice.yaml: write one with streams
}

// scaffoldResult says what was written and what the user does next.
type scaffoldResult struct {
	written, kept []string
	snippet       string // to add to an existing sluice.yaml
	noGoMod       bool
}

// scaffoldFile is one file to write: its path under the project and content.
type scaffoldFile struct {
	path    string
	content []byte
}

func (s *scaffold) files() ([]scaffoldFile, error) {
	var out []scaffoldFile
	add := func(dst, tmpl string) error {
		b, err := s.render(tmpl)
		if err != nil {
			return err
		}
		out = append(out, scaffoldFile{dst, b})
		return nil
	}
	n := s.Name
	var todo [][2]string
	switch s.Lang {
	case "python":
		todo = [][2]string{{"functions/" + n + ".py", "python/NAME.py.tmpl"}, {"functions/test_" + n + ".py", "python/test_NAME.py.tmpl"}}
	case "go":
		todo = [][2]string{{"functions/" + n + "/main.go", "go/main.go.tmpl"}, {"functions/" + n + "/main_test.go", "go/main_test.go.tmpl"},
			{"functions/" + n + "/.gitignore", "go/gitignore.tmpl"}}
	default:
		return nil, fmt.Errorf("--lang: want python or go, got %q", s.Lang)
	}
	todo = append(todo, [2]string{"tests/" + n + ".yaml", "project/test.yaml.tmpl"})
	if s.Streams {
		todo = append(todo, [2]string{"sluice.yaml", "project/sluice.yaml.tmpl"},
			[2]string{"schemas/" + n + ".in.json", "project/in.json.tmpl"}, [2]string{"schemas/" + n + ".out.json", "project/out.json.tmpl"})
	}
	for _, t := range todo {
		if err := add(t[0], t[1]); err != nil {
			return nil, err
		}
	}
	if s.Lang == "python" {
		out = append(out, scaffoldFile{"functions/" + pysdk.SDKFile, pysdk.SDK})
	}
	return out, nil
}

func (s *scaffold) render(name string) ([]byte, error) { return renderScaffold(name, s) }

// renderScaffold executes the template scaffold/name with data.
func renderScaffold(name string, data any) ([]byte, error) {
	src, err := fs.ReadFile(scaffoldFS, path.Join("scaffold", name))
	if err != nil {
		return nil, err
	}
	// [[ ]] delimiters: the Go and YAML in the templates have braces of their own
	t, err := template.New(name).Delims("[[", "]]").Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// write checks everything first, then writes: nothing is written if a file
// is in the way.
func (s *scaffold) write() (scaffoldResult, error) {
	var res scaffoldResult
	if !scaffoldName.MatchString(s.Name) {
		return res, fmt.Errorf("function name %q: want [a-z][a-z0-9_]{0,63} (it names a Python module and a Go folder too)", s.Name)
	}
	if fi, err := os.Stat(s.Dir); err != nil || !fi.IsDir() {
		return res, fmt.Errorf("--dir %q: not a folder", s.Dir)
	}
	_, err := os.Stat(filepath.Join(s.Dir, "sluice.yaml"))
	s.Streams = errors.Is(err, fs.ErrNotExist)
	files, err := s.files()
	if err != nil {
		return res, err
	}
	var todo []scaffoldFile
	for _, f := range files {
		p := filepath.Join(s.Dir, filepath.FromSlash(f.path))
		have, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist) || s.Force:
			todo = append(todo, f)
		case err != nil:
			return res, err
		case bytes.Equal(have, f.content):
			res.kept = append(res.kept, f.path+" (as it is)")
		case path.Base(f.path) == pysdk.SDKFile:
			res.kept = append(res.kept, f.path+" (yours differs from this sluice's SDK; --force replaces it)")
		default:
			return res, fmt.Errorf("%s exists: leave it, or --force to overwrite", p)
		}
	}
	for _, f := range todo {
		p := filepath.Join(s.Dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return res, err
		}
		if err := os.WriteFile(p, f.content, 0o644); err != nil {
			return res, err
		}
		res.written = append(res.written, f.path)
	}
	if !s.Streams {
		b, err := s.render("project/sluice.yaml.tmpl")
		if err != nil {
			return res, err
		}
		res.snippet = string(b)
	}
	if s.Lang == "go" {
		res.noGoMod = !hasGoMod(s.Dir)
	}
	return res, nil
}

// hasGoMod reports whether dir or a folder above it has a go.mod.
func hasGoMod(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		if _, err := os.Stat(filepath.Join(abs, "go.mod")); err == nil {
			return true
		}
		up := filepath.Dir(abs)
		if up == abs {
			return false
		}
		abs = up
	}
}

func (r scaffoldResult) print(w io.Writer, s scaffold) {
	for _, f := range r.written {
		fmt.Fprintf(w, "wrote %s\n", filepath.Join(s.Dir, filepath.FromSlash(f)))
	}
	for _, f := range r.kept {
		fmt.Fprintf(w, "kept  %s\n", f)
	}
	if r.snippet != "" {
		fmt.Fprintf(w, "\n%s has a sluice.yaml: add these lines to it (and replace the streams %s.in and %s.out with yours):\n\n%s\n",
			s.Dir, s.Name, s.Name, indentBlock(r.snippet))
	}
	fmt.Fprintln(w, "\nnext:")
	switch s.Lang {
	case "python":
		fmt.Fprintf(w, "  (cd %s && python3 -m unittest)   # the unit tests\n", filepath.Join(s.Dir, "functions"))
	case "go":
		if r.noGoMod {
			fmt.Fprintln(w, "  go mod init example.com/yourproject && go get github.com/sluice-dev/sluice/sdk/go/sluicefn   # no go.mod here yet")
		}
		fmt.Fprintf(w, "  go test ./functions/%s/   # the unit tests\n", s.Name)
		fmt.Fprintf(w, "  go build -o functions/%s/%s ./functions/%s/   # the binary sluice runs\n", s.Name, s.Name, s.Name)
	}
	fmt.Fprintf(w, "  sluice test %s   # tests/%s.yaml: the pipeline %s with the function run as a process\n", s.Dir, s.Name, s.Name)
}

func indentBlock(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "    " + l
		}
	}
	return strings.Join(lines, "\n")
}
