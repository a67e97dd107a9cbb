package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/lease"
)

// clusterStatus is GET /v1/cluster.
type clusterStatus struct {
	Node  string `json:"node"`
	TTL   string `json:"lease_ttl"`
	Nodes []struct {
		lease.Member
		Runs clusterRuns `json:"runs"`
	} `json:"nodes"`
	Waiting clusterRuns `json:"waiting"`
}

type clusterRuns struct {
	Sources   []string `json:"sources"`
	Pipelines []string `json:"pipelines"`
	Files     []string `json:"files"`
}

func (r clusterRuns) String() string {
	var parts []string
	for _, l := range []struct {
		kind  string
		names []string
	}{{"sources", r.Sources}, {"pipelines", r.Pipelines}, {"files", r.Files}} {
		if len(l.names) > 0 {
			parts = append(parts, l.kind+": "+strings.Join(l.names, ", "))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

func newCluster(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "See the nodes that share the engine and what each runs"}
	cmd.AddCommand(&cobra.Command{Use: "status", Short: "List the nodes, when each was last seen, and the sources, pipelines and files outputs each runs",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var c clusterStatus
			if err := g.client().getJSON(cmd.Context(), "/v1/cluster", &c); err != nil {
				return err
			}
			if g.json {
				return printJSON(g, c)
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tADDR\tSTARTED\tLAST SEEN\tTABLES\tRUNS")
			for _, n := range c.Nodes {
				name := n.Name
				if name == c.Node {
					name += " (this)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s ago\t%s\t%s\n", name, n.Addr, n.Started.Local().Format(time.DateTime),
					time.Since(n.LastSeen).Round(100*time.Millisecond), n.Tables, n.Runs)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if w := c.Waiting.String(); w != "-" {
				fmt.Fprintf(g.out, "\nrunning nowhere at the moment (moving to another node within %s, or no node can run them): %s\n", c.TTL, w)
			}
			return nil
		}})
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
