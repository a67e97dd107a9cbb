package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/pipetest"
)

func newTest(g *globals) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run a project's pipeline tests (DIR/tests/*.yaml next to DIR/sluice.yaml); no server needed",
		Long: "Each test file names a pipeline of DIR/sluice.yaml and lists cases: input events, optionally a\n" +
			"mock of the function or the simulated MediaWiki API (mediawiki_sim: true), and the expected\n" +
			"outputs as exact JSON (with ignored fields) or CEL conditions over `output`. Inputs are checked\n" +
			"against the input stream (schema, id, time) and outputs against the outputs (the output stream's\n" +
			"schema, id and time; a table's key and time): what the pipeline would dead-letter is that input's\n" +
			"error, and fails the case unless expected (error: ...). The schemas are the project's files: a node\n" +
			"holding a later version of a stream's schema checks against that one, and the report says so.\n" +
			"Named functions (functions: in sluice.yaml) run as the node runs them: process functions are\n" +
			"started, http ones called. Exits 1 if any case fails.",
		Args: argsBetween(0, 1, "[DIR]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			cfg, err := config.Load(filepath.Join(dir, "sluice.yaml"))
			if err != nil {
				return err
			}
			reg := node.Functions()
			if err := node.DeclareFunctions(cfg, reg, newLogger(g, map[bool]string{true: "info", false: "warn"}[verbose])); err != nil {
				return err
			}
			defer reg.Close()
			sum, err := pipetest.Run(cmd.Context(), dir, cfg, reg, g.out)
			if err != nil {
				return err
			}
			if sum.Failed > 0 {
				return fmt.Errorf("%d of %d case(s) failed", sum.Failed, sum.Failed+sum.Passed)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log what the functions' processes print (stdout and stderr, line by line)")
	return cmd
}
