package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/httpapi"
	"github.com/sluice-dev/sluice/internal/stream"
)

func newInvoke(g *globals) *cobra.Command {
	var cfg string
	cmd := &cobra.Command{
		Use:   "invoke FUNCTION [FILE|-]",
		Short: "Run a function on events (a JSON object, an array or NDJSON) and print its outputs; nothing is written",
		Long: "Prints each output event as one line of NDJSON on stdout, and each event's error on stderr\n" +
			"(exit status 1 if any). With --json, prints one result per input event instead.",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = cmd.InOrStdin()
			if len(args) == 2 && args[1] != "-" {
				f, err := os.Open(args[1])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			body, err := io.ReadAll(in)
			if err != nil {
				return err
			}
			raws, err := stream.SplitBody(body, !json.Valid(body), 0)
			if err != nil {
				return err
			}
			req := httpapi.Invoke{Events: make([]json.RawMessage, len(raws))}
			for i, r := range raws {
				req.Events[i] = r
			}
			if cfg != "" {
				if err := json.Unmarshal([]byte(cfg), &req.Config); err != nil {
					return fmt.Errorf("--config: want a JSON object: %w", err)
				}
			}
			var res httpapi.InvokeResult
			if err := g.client().sendJSON(cmd.Context(), "POST", "/v1/functions/"+url.PathEscape(args[0])+"/invoke", req, &res); err != nil {
				return err
			}
			failed := 0
			for _, r := range res.Results {
				if g.json {
					b, _ := json.Marshal(r)
					fmt.Fprintf(g.out, "%s\n", b)
				} else {
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
	return cmd
}
