package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/httpapi"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/stream"
)

func newInvoke(g *globals) *cobra.Command {
	var cfg, pl, project string
	cmd := &cobra.Command{
		Use:   "invoke FUNCTION|--pipeline NAME [FILE|-]",
		Short: "Run a function on events (a JSON object, an array or NDJSON) on a node, or --project here, and print its outputs; nothing is written",
		Long: "Asks a node (--server) to run the function: start one first with `sluice serve` (or `sluice demo`),\n" +
			"or run the function here with --project DIR.\n" +
			"Prints each output event as one line of NDJSON on stdout, and each event's error on stderr\n" +
			"(exit status 1 if any), with its type, stack, the function's stderr and exit when it has them.\n" +
			"With --json, prints one result per input event instead. With --project DIR, runs the function\n" +
			"here, from DIR/sluice.yaml (a named function's processes are started as the node starts them),\n" +
			"instead of asking a server.",
		Args: argsBetween(0, 2, "FUNCTION [FILE|-] (or --pipeline NAME [FILE|-])"),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := ""
			if pl != "" {
				path = "/v1/pipelines/" + url.PathEscape(pl) + "/invoke"
				args = append([]string{""}, args...) // no function name: the pipeline's
				if cfg != "" {
					return fmt.Errorf("--config and --pipeline: a pipeline's function has its config")
				}
				if project != "" {
					return fmt.Errorf("--project runs a function; a pipeline runs on a server (or in `sluice test`)")
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
			if project != "" {
				if res, err = invokeHere(cmd, g, project, args[0], req); err != nil {
					return err
				}
			} else if err := g.client().sendJSON(cmd.Context(), "POST", path, payload, &res); err != nil {
				var ue *unreachableError
				if errors.As(err, &ue) {
					ue.hint = fmt.Sprintf("no node answers at %s; sluice invoke runs the function on a node: start one with `sluice serve` (or `sluice demo`), or run it here with --project DIR", ue.base)
				}
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
					if !g.json {
						printDetail(g.errOut, r.Detail)
					}
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
	cmd.Flags().StringVar(&project, "project", "", "run the function here, from DIR/sluice.yaml, without a server")
	return cmd
}

// invokeHere runs a function in this process, as the node would.
func invokeHere(cmd *cobra.Command, g *globals, dir, name string, req httpapi.Invoke) (httpapi.InvokeResult, error) {
	cfg, err := config.Load(filepath.Join(dir, "sluice.yaml"))
	if err != nil {
		return httpapi.InvokeResult{}, err
	}
	reg := node.Functions()
	if err := node.DeclareFunctions(cfg, reg, newLogger(g, "info")); err != nil {
		return httpapi.InvokeResult{}, err
	}
	defer reg.Close()
	f, err := reg.New(name, req.Config)
	if err != nil {
		return httpapi.InvokeResult{}, err
	}
	if c, ok := f.(io.Closer); ok {
		defer c.Close()
	}
	return httpapi.InvokeResults(f.Call(cmd.Context(), req.Events), nil)
}

// printDetail shows what a dead letter would carry besides the message.
func printDetail(w io.Writer, d *httpapi.ErrorDetail) {
	if d == nil {
		return
	}
	indent := func(s string) string { return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") }
	if len(d.Stack) > 0 {
		fmt.Fprintf(w, "  stack:\n%s\n", indent(strings.Join(d.Stack, "\n")))
	}
	if d.Exit != "" {
		fmt.Fprintf(w, "  exit: %s\n", d.Exit)
	}
	if d.Status != 0 {
		fmt.Fprintf(w, "  http status: %d\n", d.Status)
	}
	if d.Body != "" {
		fmt.Fprintf(w, "  http body:\n%s\n", indent(d.Body))
	}
	if d.Stderr != "" {
		fmt.Fprintf(w, "  stderr (its end):\n%s\n", indent(d.Stderr))
	}
}
