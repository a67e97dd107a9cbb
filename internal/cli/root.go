// Package cli is the sluice command line: `sluice serve` runs a node; the
// other commands talk to one over HTTP. One file per command.
package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Execute runs the command line and returns the process exit code.
func Execute(args []string, stdout, stderr io.Writer) int {
	g := &globals{out: stdout, errOut: stderr}
	defer g.closeIdle()
	root := g.root()
	root.SetArgs(args)
	if cmd, err := root.ExecuteContextC(context.Background()); err != nil {
		if strings.HasPrefix(err.Error(), "unknown command") {
			err = fmt.Errorf("%w\nsee `%s --help`", err, cmd.CommandPath())
		}
		fmt.Fprintln(stderr, "sluice:", err)
		return 1
	}
	return 0
}

type globals struct {
	server string
	token  string // --token; bearerToken reads SLUICE_TOKEN too
	ca     string // a PEM file of roots to trust beside the system's
	json   bool
	out    io.Writer
	errOut io.Writer
	rt     http.RoundTripper // transport.go
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	return (&globals{out: stdout, errOut: stderr}).root()
}

func (g *globals) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "sluice",
		Short:         "Self-service event streams: schema-checked, replayable, on NATS JetStream",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetVersionTemplate("sluice {{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	root.SetOut(g.out)
	root.SetErr(g.errOut)
	server := os.Getenv("SLUICE_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	root.PersistentFlags().StringVar(&g.server, "server", server, "the sluice server: a URL, HOST:PORT or :PORT (http) (env SLUICE_SERVER)")
	root.PersistentFlags().StringVar(&g.ca, "ca", os.Getenv("SLUICE_CA"), "PEM file of CA certificates to trust for an https --server, beside the system's (env SLUICE_CA)")
	root.PersistentFlags().BoolVar(&g.json, "json", false, "print JSON instead of tables")
	tokenFlag(root, g)
	root.AddCommand(newServe(g), newDemo(g), newStream(g), newProduce(g), newTail(g), newSource(g), newReplay(g), newInvoke(g), newPipeline(g), newMediaWikiSim(g), newTest(g), newTable(g), newFunction(g), newApply(g), newExport(g), newCluster(g), newToken(g), newVersion(g), newInit(g))
	return root
}
