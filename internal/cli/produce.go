package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/stream"
)

func newProduce(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "produce NAME [FILE|-]",
		Short: "Produce events from a file or stdin (a JSON object, a JSON array, or NDJSON)",
		Long: "Produce events. Every event is validated against the stream's schema; valid ones are stored,\n" +
			"each invalid one is reported with its index, field (JSON pointer) and rule. Exits 1 if any was refused,\n" +
			"or not stored (out of space: 507, which says which events were stored; sending them all again is safe).",
		Args: argsBetween(1, 2, "NAME [FILE|-]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := readInput(cmd, args, 1)
			if err != nil {
				return err
			}
			ct := "application/json"
			if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '{' && !json.Valid(t) {
				ct = "application/x-ndjson" // several objects, one per line
			}
			var res stream.Result
			var notStored error // the answer to events not stored (507 out of space): it lists those that were
			_, err = g.client().do(cmd.Context(), "POST", "/v1/streams/"+url.PathEscape(args[0])+"/events", ct, body, &res)
			if ae, ok := err.(*apiError); ok && (ae.Body["invalid"] != nil || ae.Body["not_stored"] != nil) {
				raw, _ := json.Marshal(ae.Body)
				_ = json.Unmarshal(raw, &res)
				if ae.Body["not_stored"] != nil {
					notStored = err
				}
			} else if err != nil {
				return err
			}
			if g.json {
				if err := printJSON(g, res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(g.out, "accepted %d (%d duplicate), invalid %d\n", res.Accepted, res.Duplicates, len(res.Invalid))
			}
			for _, inv := range res.Invalid {
				for _, e := range inv.Errors {
					ptr := e.Pointer
					if ptr == "" {
						ptr = "/"
					}
					fmt.Fprintf(g.errOut, "event %d: %s: %s: %s\n", inv.Index, ptr, e.Keyword, e.Message)
				}
			}
			if notStored != nil {
				return notStored
			}
			if len(res.Invalid) > 0 {
				return fmt.Errorf("%d event(s) refused", len(res.Invalid))
			}
			return nil
		},
	}
}
