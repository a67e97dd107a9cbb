package cli

import (
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/httpapi"
	"github.com/sluice-dev/sluice/internal/stream"
)

func newInvoke(g *globals) *cobra.Command {
	var cfg, pl string
	cmd := &cobra.Command{
		Use:   "invoke FUNCTION|--pipeline NAME [FILE|-]",
		Short: "Run a function on events (a JSON object, an array or NDJSON) and print its outputs; nothing is written",
		Long: "Prints each output event as one line of NDJSON on stdout, and each event's error on stderr\n" +
			"(exit status 1 if any). With --json, prints one result per input event instead.",
		Args: cobra.RangeArgs(0, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := ""
			if pl != "" {
				path = "/v1/pipelines/" + url.PathEscape(pl) + "/invoke"
				args = append([]string{""}, args...) // no function name: the pipeline's
				if cfg != "" {
					return fmt.Errorf("--config and --pipeline: a pipeline's function has its config")
				}
			} else if len(args) == 0 {
				return fmt.Errorf("name a function, or a pipeline with --pipeline")
			} else {
				path = "/v1/functions/" + url.PathEscape(args[0]) + "/invoke"
			}
			body, err := readInput(cmd, args, 1)
			if err != nil {
				return err
			}
			raws, err := stream.SplitBody(body, !json.Valid(body), stream.Limits{})
			if err != nil {
				return err
			}
			req := httpapi.Invoke{Events: make([]json.RawMessage, len(raws))}
			var payload any = &req
			for i, r := range raws {
				req.Events[i] = r
			}
			if cfg != "" {
				if err := json.Unmarshal([]byte(cfg), &req.Config); err != nil {
					return fmt.Errorf("--config: want a JSON object: %w", err)
				}
			}
			if pl != "" {
				payload = httpapi.PipelineInvoke{Events: req.Events}
			}
			var res httpapi.InvokeResult
			if err := g.client().sendJSON(cmd.Context(), "POST", path, payload, &res); err != nil {
				return err
			}
			failed := 0
			for _, r := range res.Results {
				if g.json {
					b, _ := json.Marshal(r)
					fmt.Fprintf(g.out, "%s\n", b)
				} else {
					if r.Filtered {
						fmt.Fprintf(g.errOut, "event %d: filtered out by where\n", r.Index)
					}
					for _, o := range r.Outputs {
						fmt.Fprintf(g.out, "%s\n", o)
					}
				}
				if r.Error != "" {
					failed++
					fmt.Fprintf(g.errOut, "event %d: %s\n", r.Index, r.Error)
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d event(s) failed", failed, len(res.Results))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfg, "config", "", `the function's config as a JSON object, e.g. '{"program":"{title}"}'`)
	cmd.Flags().StringVar(&pl, "pipeline", "", "invoke a pipeline's where and function (as configured) instead")
	return cmd
}
