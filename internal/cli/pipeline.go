package cli

import (
	"fmt"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/files"
	"github.com/sluice-dev/sluice/internal/pipeline"
)

func newPipeline(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "pipeline", Short: "See and steer pipelines: status, pause, resume, reset (backfill), redrive, cancel"}
	var to string
	reset := &cobra.Command{Use: "reset NAME --to POS", Short: "Process again from a position (earliest, a time, a sequence); outputs are kept, not doubled",
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return pipelineCall(g, cmd, "POST", "/v1/pipelines/"+url.PathEscape(args[0])+"/reset?to="+url.QueryEscape(to))
		}}
	reset.Flags().StringVar(&to, "to", "", "position: earliest, latest, a sequence, an RFC 3339 time or unix ms (required)")
	_ = reset.MarkFlagRequired("to")
	var noWait bool
	redrive := &cobra.Command{Use: "redrive NAME", Short: "Submit the pipeline's dead letters again (after a fix); follows the operation until it ends",
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOperation(g, cmd, "/v1/pipelines/"+url.PathEscape(args[0])+"/redrive", noWait, func(op pipeline.Operation) error {
				p := op.Progress
				_, err := fmt.Fprintf(g.out, "redrove %d dead letter(s): %d succeeded (removed), %d failed again (kept)\n", p.Succeeded+p.Failed, p.Succeeded, p.Failed)
				return err
			})
		}}
	redrive.Flags().BoolVar(&noWait, "no-wait", false, "print the operation and return at once (it runs on the server)")
	cmd.AddCommand(
		&cobra.Command{Use: "ls", Short: "List pipelines with position, lag, rate and counts", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				var out struct {
					Pipelines []pipeline.Status `json:"pipelines"`
				}
				if err := g.client().getJSON(cmd.Context(), "/v1/pipelines", &out); err != nil {
					return err
				}
				if g.json {
					return printJSON(g, out.Pipelines)
				}
				tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tFROM\tFUNCTION\tSTATE\tNODE\tPOSITION\tLAG\tOLDEST WAITING\tRATE/S\tPROCESSED\tFILTERED\tFAILED\tLAST ERROR")
				for _, p := range out.Pipelines {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%.1f\t%d\t%d\t%d\t%s\n", p.Name, p.From, p.Function, p.State, orDash(p.Node), p.Position,
						p.LagEvents, lagTime(p.LagSeconds), p.Rate, p.Processed, p.Filtered, p.Failed, short(p.LastError, 60))
				}
				return tw.Flush()
			}},
		&cobra.Command{Use: "status NAME", Short: "Show one pipeline", Args: exactArgs("NAME"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return pipelineCall(g, cmd, "GET", "/v1/pipelines/"+url.PathEscape(args[0]))
			}},
		&cobra.Command{Use: "pause NAME", Short: "Pause a pipeline (kept across restarts)", Args: exactArgs("NAME"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return pipelineCall(g, cmd, "POST", "/v1/pipelines/"+url.PathEscape(args[0])+"/pause")
			}},
		&cobra.Command{Use: "resume NAME", Short: "Resume a paused pipeline", Args: exactArgs("NAME"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return pipelineCall(g, cmd, "POST", "/v1/pipelines/"+url.PathEscape(args[0])+"/resume")
			}},
		reset,
		redrive,
		&cobra.Command{Use: "cancel NAME", Short: "Cancel the operation (redrive, rebuild of a table) a pipeline runs; what it did stays done", Args: exactArgs("NAME"),
			RunE: func(cmd *cobra.Command, args []string) error { return cancelPipelineOperation(g, cmd, args[0]) }},
	)
	cmd.AddCommand(defineCommands(g, catalog.Pipelines)...)
	return cmd
}

// pipelineStatus is what GET /v1/pipelines/{name} answers: the status
// with its files outputs.
type pipelineStatus struct {
	pipeline.Status
	Files []files.Status `json:"files,omitempty"`
}

func pipelineCall(g *globals, cmd *cobra.Command, method, path string) error {
	var s pipelineStatus
	var err error
	if method == "GET" {
		err = g.client().getJSON(cmd.Context(), path, &s)
	} else {
		err = g.client().sendJSON(cmd.Context(), method, path, nil, &s)
	}
	if err != nil {
		return err
	}
	if g.json {
		return printJSON(g, s)
	}
	tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "name\t%s\nfrom\t%s\nfunction\t%s\nto\t%v\nstate\t%s\npaused\t%v\n", s.Name, s.From, s.Function, s.To, s.State, s.Paused)
	fmt.Fprintf(tw, "position\t%d\nlag\t%s\nrate\t%.1f events/s\n", s.Position, lagText(s.Status), s.Rate)
	fmt.Fprintf(tw, "processed\t%d\nfiltered\t%d\nfailed\t%d\noutputs\t%d\n", s.Processed, s.Filtered, s.Failed, s.Outputs)
	if s.CountedSince != nil {
		fmt.Fprintf(tw, "counted since\t%s (totals across restarts and nodes)\n", fmtTime(s.CountedSince))
	}
	for _, f := range s.Files {
		fmt.Fprintf(tw, "files %s\t%s, position %d, %d events not yet in an object: %d held in the open object, %d not read yet\n",
			f.URL, f.State, f.Position, f.LagEvents, f.HeldEvents, f.UnreadEvents)
		if f.Waiting != "" {
			fmt.Fprintf(tw, "  waiting\t%s\n", f.Waiting)
		} else if f.Roll != "" {
			fmt.Fprintf(tw, "  roll\t%s\n", f.Roll)
		}
		if f.LastError != "" {
			fmt.Fprintf(tw, "  last error\t%s (%s)\n", f.LastError, fmtTime(f.LastErrorTime))
		}
	}
	if s.LastError != "" {
		fmt.Fprintf(tw, "last error\t%s (%s)\n", s.LastError, fmtTime(s.LastErrorTime))
	}
	if op := s.Operation; op != nil {
		fmt.Fprintf(tw, "operation\t%s %s, %s (started %s)\n", op.ID, op.State, progressText(*op), op.Started.Format(time.RFC3339))
	}
	return tw.Flush()
}

// lagText is a pipeline's lag in words: how many inputs wait, and how
// long the oldest has.
func lagText(s pipeline.Status) string {
	if s.LagEvents == 0 {
		return "0 events"
	}
	return fmt.Sprintf("%d events, the oldest waiting %s", s.LagEvents, lagTime(s.LagSeconds))
}

func lagTime(sec *float64) string {
	if sec == nil {
		return "-"
	}
	return time.Duration(*sec * float64(time.Second)).Round(time.Second).String()
}
