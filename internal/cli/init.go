package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func newInit(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Scaffold a project: two streams with schemas, a pipeline, a `sluice test` case and a README",
		Long: "Writes, under DIR (made if missing; refused if it holds anything, unless --force):\n" +
			"  sluice.yaml              the streams signups and welcomes, and the pipeline welcome (jq) between them\n" +
			"  schemas/signups.json     their JSON Schemas\n" +
			"  schemas/welcomes.json\n" +
			"  tests/welcome.yaml       cases that `sluice test DIR` runs\n" +
			"  events/signups.ndjson    events to produce\n" +
			"  README.md                the commands: sluice test, sluice serve, sluice produce",
		Args: exactArgs("DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			written, err := initProject(args[0], force)
			if err != nil {
				return err
			}
			dir := args[0]
			for _, f := range written {
				fmt.Fprintf(g.out, "wrote %s\n", filepath.Join(dir, filepath.FromSlash(f)))
			}
			fmt.Fprintf(g.out, "\nnext:\n"+
				"  sluice test %s                                   # the pipeline on tests/welcome.yaml\n"+
				"  sluice serve --config %s                # run it\n"+
				"  sluice produce signups %s   # in another terminal; then: sluice tail welcomes\n",
				dir, filepath.Join(dir, "sluice.yaml"), filepath.Join(dir, "events", "signups.ndjson"))
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "write into a folder that is not empty (files of the same name are overwritten)")
	return cmd
}

// initProject writes the project of scaffold/init into dir, every
// template as the file of its name without .tmpl, and returns their paths.
func initProject(dir string, force bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("init %s: %w", dir, err)
	case len(entries) > 0 && !force:
		return nil, fmt.Errorf("init %s: the folder is not empty (it has %s); --force writes into it anyway", dir, entries[0].Name())
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	data := struct{ Name string }{filepath.Base(abs)}
	var written []string
	err = fs.WalkDir(scaffoldFS, "scaffold/init", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(p, "scaffold/init/"), ".tmpl")
		b, err := renderScaffold(path.Join("init", rel+".tmpl"), data)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
		written = append(written, rel)
		return nil
	})
	return written, err
}
