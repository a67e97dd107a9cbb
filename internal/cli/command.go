package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// Command is the command tree Execute runs, for checks of what the command
// line offers: the deployment manifests' test (package deploy) looks up the
// flags they pass to `sluice serve`.
func Command(stdout, stderr io.Writer) *cobra.Command { return newRoot(stdout, stderr) }
