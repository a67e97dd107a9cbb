package cli

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/httpapi"
	"github.com/sluice-dev/sluice/internal/pipeline"
)

func newTable(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "table", Short: "Query temporal tables: a key's value at a time, its history, every key at a time"}
	var at, from, to, prefix string
	var limit int
	get := &cobra.Command{Use: "get NAME KEY [KEY...]", Short: "The value of keys at a time (default now); several keys take one request per 1000",
		Args: argsBetween(2, -1, "NAME KEY [KEY...]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 2 {
				return lookupKeys(g, cmd, args[0], args[1:], at)
			}
			var v httpapi.TableVersion
			q := url.Values{}
			if at != "" {
				q.Set("at", at)
			}
			if err := g.client().getJSON(cmd.Context(), "/v1/tables/"+url.PathEscape(args[0])+"/keys/"+url.PathEscape(args[1])+"?"+q.Encode(), &v); err != nil {
				return err
			}
			if g.json {
				return printJSON(g, v)
			}
			fmt.Fprintf(g.out, "%s\n", v.Value)
			fmt.Fprintf(g.errOut, "valid from %s to %s (from %s@%d)\n", v.ValidFrom.Format(time.RFC3339Nano), fmtTime(v.ValidTo), v.Source.Stream, v.Source.Seq)
			return nil
		}}
	get.Flags().StringVar(&at, "at", "", "RFC 3339 time or unix ms (default now)")
	history := &cobra.Command{Use: "history NAME KEY", Short: "Every version of a key, in order", Args: exactArgs("NAME", "KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var h struct {
				Versions []httpapi.TableVersion `json:"versions"`
			}
			q := url.Values{}
			if from != "" {
				q.Set("from", from)
			}
			if to != "" {
				q.Set("to", to)
			}
			if err := g.client().getJSON(cmd.Context(), "/v1/tables/"+url.PathEscape(args[0])+"/keys/"+url.PathEscape(args[1])+"/history?"+q.Encode(), &h); err != nil {
				return err
			}
			return printVersions(g, h.Versions)
		}}
	history.Flags().StringVar(&from, "from", "", "RFC 3339 time or unix ms")
	history.Flags().StringVar(&to, "to", "", "RFC 3339 time or unix ms (exclusive)")
	ls := &cobra.Command{Use: "ls NAME", Short: "Every key's value at a time (default now), by key", Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var all []httpapi.TableVersion
			cursor := ""
			for {
				q := url.Values{"limit": {"1000"}}
				for k, v := range map[string]string{"at": at, "prefix": prefix, "cursor": cursor} {
					if v != "" {
						q.Set(k, v)
					}
				}
				var page struct {
					Versions []httpapi.TableVersion `json:"versions"`
					Next     string                 `json:"next"`
				}
				if err := g.client().getJSON(cmd.Context(), "/v1/tables/"+url.PathEscape(args[0])+"?"+q.Encode(), &page); err != nil {
					return err
				}
				all = append(all, page.Versions...)
				if page.Next == "" || (limit > 0 && len(all) >= limit) {
					break
				}
				cursor = page.Next
			}
			if limit > 0 && len(all) > limit {
				all = all[:limit]
			}
			return printVersions(g, all)
		}}
	ls.Flags().StringVar(&at, "at", "", "RFC 3339 time or unix ms (default now)")
	ls.Flags().StringVar(&prefix, "prefix", "", "only keys that start with this")
	ls.Flags().IntVarP(&limit, "n", "n", 0, "at most this many keys")
	var noWait bool
	rebuild := &cobra.Command{Use: "rebuild NAME", Short: "Empty a table and write it again from its pipeline's output stream (the same versions); follows the operation until it ends",
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOperation(g, cmd, "/v1/tables/"+url.PathEscape(args[0])+"/rebuild", noWait, func(op pipeline.Operation) error {
				_, err := fmt.Fprintf(g.out, "rebuilt %s from %d output(s)\n", args[0], op.Progress.Succeeded)
				return err
			})
		}}
	rebuild.Flags().BoolVar(&noWait, "no-wait", false, "print the operation and return at once (it runs on the server)")
	cmd.AddCommand(get, history, ls, rebuild)
	cmd.AddCommand(defineCommands(g, catalog.Tables)...)
	return cmd
}

// lookupKeys prints the values of keys at at, looked up in batches, in
// order; it fails after printing if a key had no value.
func lookupKeys(g *globals, cmd *cobra.Command, name string, keys []string, at string) error {
	var results []httpapi.TableKeyResult
	for chunk := range slices.Chunk(keys, maxLookupKeys) {
		req := map[string]any{"keys": chunk}
		if at != "" {
			req["at"] = at
		}
		var res httpapi.TableLookupResult
		if err := g.client().sendJSON(cmd.Context(), "POST", "/v1/tables/"+url.PathEscape(name)+"/lookup", req, &res); err != nil {
			return err
		}
		results = append(results, res.Results...)
	}
	missing := 0
	for _, r := range results {
		if r.Missing {
			missing++
		}
	}
	if g.json {
		if err := printJSON(g, results); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tVALID FROM\tVALID TO\tVALUE")
		for _, r := range results {
			if r.Missing {
				fmt.Fprintf(tw, "%s\t\t\t(no value)\n", r.Key)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Key, r.ValidFrom.Format(time.RFC3339Nano), fmtTime(r.ValidTo), short(string(r.Value), 120))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if missing > 0 {
		return fmt.Errorf("%d of %d keys had no value at %s", missing, len(keys), cmp.Or(at, "the time asked (now)"))
	}
	return nil
}

// maxLookupKeys is how many keys one lookup request takes.
const maxLookupKeys = 1000

func printVersions(g *globals, vs []httpapi.TableVersion) error {
	if g.json {
		return printJSON(g, vs)
	}
	tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALID FROM\tVALID TO\tSOURCE\tVALUE")
	for _, v := range vs {
		val := string(v.Value)
		if v.Deleted {
			val = "(deleted)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s@%d\t%s\n", v.Key, v.ValidFrom.Format(time.RFC3339Nano), fmtTime(v.ValidTo), v.Source.Stream, v.Source.Seq, short(val, 120))
	}
	return tw.Flush()
}
