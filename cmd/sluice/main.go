// Command sluice runs and talks to sluice nodes. See `sluice --help`.
package main

import (
	"os"

	"github.com/sluice-dev/sluice/internal/cli"
)

func main() {
	os.Exit(cli.Execute(os.Args[1:], os.Stdout, os.Stderr))
}
