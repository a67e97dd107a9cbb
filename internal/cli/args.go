package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// exactArgs wants the arguments named, and names them when they are not there.
func exactArgs(names ...string) cobra.PositionalArgs {
	return argsBetween(len(names), len(names), strings.Join(names, " "))
}

// argsBetween wants min to max arguments (max < 0: no upper bound) and,
// when they are not there, says which in usage's words ("NAME [FILE|-]").
func argsBetween(min, max int, usage string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || max >= 0 && len(args) > max {
			return fmt.Errorf("%s wants %s (got %d argument(s)); see `%s --help`", cmd.CommandPath(), usage, len(args), cmd.CommandPath())
		}
		return nil
	}
}

// flagError points a wrong flag at the command's help; cobra calls it for
// the command and every command under it.
func flagError(cmd *cobra.Command, err error) error {
	return fmt.Errorf("%w; see `%s --help`", err, cmd.CommandPath())
}
