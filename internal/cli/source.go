package cli

import (
	"fmt"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/source"
)

func newSource(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "source", Short: "See and steer the sources that feed streams"}
	cmd.AddCommand(
		&cobra.Command{Use: "ls", Short: "List sources with state, lag and counts", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				var out struct {
					Sources []source.StatusView `json:"sources"`
				}
				if err := g.client().getJSON(cmd.Context(), "/v1/sources", &out); err != nil {
					return err
				}
				if g.json {
					return printJSON(g, out.Sources)
				}
				tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tKIND\tTO\tSTATE\tNODE\tLAG\tIN\tSTORED\tDUP\tDROPPED\tDEAD\tRECONNECTS\tLAST ERROR")
				for _, s := range out.Sources {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", s.Name, s.Kind, s.To, state(s), orDash(s.Node), lag(s),
						s.EventsIn, s.Stored, s.Duplicates, s.Dropped, s.DeadLettered, s.Reconnects, short(s.LastError, 60))
				}
				return tw.Flush()
			}},
		&cobra.Command{Use: "status NAME", Short: "Show one source in full", Args: exactArgs("NAME"),
			RunE: func(cmd *cobra.Command, args []string) error {
				var s source.StatusView
				if err := g.client().getJSON(cmd.Context(), "/v1/sources/"+url.PathEscape(args[0]), &s); err != nil {
					return err
				}
				return printSource(g, s)
			}},
		pauseCmd(g, "pause"), pauseCmd(g, "resume"),
	)
	cmd.AddCommand(defineCommands(g, catalog.Sources)...)
	return cmd
}

func pauseCmd(g *globals, verb string) *cobra.Command {
	return &cobra.Command{Use: verb + " NAME", Short: verb + " a source (kept across restarts)", Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var s source.StatusView
			if err := g.client().sendJSON(cmd.Context(), "POST", "/v1/sources/"+url.PathEscape(args[0])+"/"+verb, nil, &s); err != nil {
				return err
			}
			return printSource(g, s)
		}}
}

func printSource(g *globals, s source.StatusView) error {
	if g.json {
		return printJSON(g, s)
	}
	tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "name\t%s\nkind\t%s\nto\t%s\nstate\t%s\n", s.Name, s.Kind, s.To, state(s))
	if s.Node != "" {
		fmt.Fprintf(tw, "node\t%s\n", s.Node)
	}
	fmt.Fprintf(tw, "last event time\t%s\nlast stored\t%s\nlag\t%s\nposition\t%s\n", fmtTime(s.LastEventTime), fmtTime(s.LastStoredTime), lag(s), s.Position)
	fmt.Fprintf(tw, "events in\t%d\nstored\t%d\nduplicates\t%d\ndropped\t%d\ndead-lettered\t%d\nunreadable\t%d\nreconnects\t%d\n",
		s.EventsIn, s.Stored, s.Duplicates, s.Dropped, s.DeadLettered, s.Unreadable, s.Reconnects)
	if s.LastError != "" {
		fmt.Fprintf(tw, "last error\t%s (%s)\n", s.LastError, fmtTime(s.LastErrorTime))
	}
	return tw.Flush()
}

func state(s source.StatusView) string {
	if s.Paused && s.State != source.Paused {
		return s.State + " (pausing)"
	}
	if s.RetryAt != nil {
		return fmt.Sprintf("%s (retry in %s)", s.State, time.Until(*s.RetryAt).Round(time.Second))
	}
	return s.State
}

func lag(s source.StatusView) string {
	if s.LagSeconds == nil {
		return "-"
	}
	return (time.Duration(*s.LagSeconds * float64(time.Second))).Round(time.Second).String()
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}
