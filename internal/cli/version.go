package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

func newVersion(g *globals) *cobra.Command {
	return &cobra.Command{Use: "version", Short: "Print sluice's version, the commit it was built from and the Go version (also --version)",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(g.out, "sluice %s\n", version())
			return nil
		}}
}

// version is the module's version ("(devel)" when built from a checkout),
// the VCS revision and time the binary was built from (when the go command
// knew them), and the Go version.
func version() string {
	v, rev, at, dirty := "(devel)", "", "", false
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	var b strings.Builder
	b.WriteString(v)
	if rev != "" {
		b.WriteString(" (revision " + rev[:min(12, len(rev))])
		if at != "" {
			b.WriteString(" of " + at)
		}
		if dirty {
			b.WriteString(", modified")
		}
		b.WriteString(")")
	}
	b.WriteString(" " + runtime.Version())
	return b.String()
}
