package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/httpapi"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
)

func newStream(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "stream", Short: "Create, list, inspect, evolve and delete streams"}
	cmd.AddCommand(newStreamCreate(g), newStreamLs(g), newStreamInfo(g), newStreamSchema(g), newStreamRm(g))
	cmd.AddCommand(defineCommands(g, catalog.Streams)...)
	return cmd
}

func newStreamCreate(g *globals) *cobra.Command {
	var req httpapi.StreamCreate
	var schemaFile, maxBytes string
	var maxAge, window time.Duration
	cmd := &cobra.Command{
		Use:   "create NAME --schema FILE",
		Short: "Create a stream bound to a JSON Schema (JSON or YAML; local $refs are sent along)",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := schema.LoadFile(schemaFile)
			if err != nil {
				return err
			}
			req.Name, req.SchemaBundle = args[0], &b
			req.Retention.MaxAge, req.DuplicateWindow = catalog.Duration(maxAge), catalog.Duration(window)
			if maxBytes != "" {
				n, err := humanize.ParseBytes(maxBytes)
				if err != nil {
					return fmt.Errorf("--max-bytes %q: %w", maxBytes, err)
				}
				req.Retention.MaxBytes = int64(n)
			}
			var info stream.Info
			if err := g.client().sendJSON(cmd.Context(), "POST", "/v1/streams", req, &info); err != nil {
				return err
			}
			if g.json {
				return printJSON(g, info)
			}
			fmt.Fprintf(g.out, "created stream %s (schema v%d, id %s, time %s)\n", info.Name, info.Version, info.ID, info.Time)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&schemaFile, "schema", "", "JSON Schema file (required)")
	fl.StringVar(&req.ID, "id", "", "JSON pointer to the event's unique id (default /meta/id)")
	fl.StringVar(&req.Time, "time", "", "JSON pointer to the event time, RFC 3339 (default /meta/dt)")
	fl.StringSliceVar(&req.Key, "key", nil, "JSON pointer(s) forming the event key (repeat for several)")
	fl.DurationVar(&maxAge, "max-age", 0, "drop events older than this (e.g. 168h; default: keep)")
	fl.StringVar(&maxBytes, "max-bytes", "", "drop the oldest events past this size (e.g. 10GiB)")
	fl.DurationVar(&window, "duplicate-window", 0, "how long ids are remembered for de-duplication (default 2m)")
	fl.IntVar(&req.Replicas, "replicas", 0, "copies on a JetStream cluster: 1, 3 or 5 (default: the node's nats_replicas)")
	_ = cmd.MarkFlagRequired("schema")
	return cmd
}

func newStreamLs(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List streams",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Streams []stream.Info `json:"streams"`
			}
			if err := g.client().getJSON(cmd.Context(), "/v1/streams", &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(g, out.Streams)
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSCHEMA\tEVENTS\tBYTES\tFIRST SEQ\tLAST SEQ\tLAST EVENT TIME")
			for _, s := range out.Streams {
				fmt.Fprintf(tw, "%s\tv%d\t%d\t%s\t%d\t%d\t%s\n", s.Name, s.Version, s.Messages, humanize.IBytes(s.Bytes), s.FirstSeq, s.LastSeq, fmtTime(s.LastTime))
			}
			return tw.Flush()
		},
	}
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339Nano)
}

func newStreamInfo(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "info NAME",
		Short: "Show a stream's definition, schema versions and state",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var info stream.Info
			if err := g.client().getJSON(cmd.Context(), "/v1/streams/"+url.PathEscape(args[0]), &info); err != nil {
				return err
			}
			if g.json {
				return printJSON(g, info)
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "name\t%s\nid\t%s\ntime\t%s\nkey\t%v\n", info.Name, info.ID, info.Time, info.Key)
			from := ""
			if info.PreviewDefault {
				from = " (from the schema)"
			}
			fmt.Fprintf(tw, "preview\t%s%s\n", strings.Join(info.Preview, ", "), from)
			fmt.Fprintf(tw, "retention\tmax_age %s, max_bytes %d\n", time.Duration(info.Retention.MaxAge), info.Retention.MaxBytes)
			fmt.Fprintf(tw, "events\t%d (%s)\nsequences\t%d to %d\n", info.Messages, humanize.IBytes(info.Bytes), info.FirstSeq, info.LastSeq)
			fmt.Fprintf(tw, "event times\t%s to %s\n", fmtTime(info.FirstTime), fmtTime(info.LastTime))
			for _, v := range info.Versions {
				note := ""
				if v.Forced {
					note = fmt.Sprintf(" (forced, %d breaking change(s))", len(v.Breaking))
				}
				fmt.Fprintf(tw, "schema v%d\t%s%s\n", v.Version, v.Created.Format(time.RFC3339), note)
			}
			return tw.Flush()
		},
	}
}

func newStreamSchema(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "schema NAME FILE",
		Short: "Replace a stream's schema with a new, backward-compatible version",
		Args:  exactArgs("NAME", "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := schema.LoadFile(args[1])
			if err != nil {
				return err
			}
			path := "/v1/streams/" + url.PathEscape(args[0]) + "/schema"
			if force {
				path += "?force=true"
			}
			var res httpapi.SchemaVersionResult
			err = g.client().sendJSON(cmd.Context(), "PUT", path, httpapi.SchemaPut{SchemaBundle: &b}, &res)
			if ae, ok := err.(*apiError); ok && ae.Status == 409 {
				if changes, ok := ae.Body["breaking"].([]any); ok {
					fmt.Fprintf(g.errOut, "refused: %d breaking change(s):\n", len(changes))
					for _, c := range changes {
						m, _ := c.(map[string]any)
						fmt.Fprintf(g.errOut, "  %v (field %v): %v: %v\n", m["pointer"], m["field"], m["kind"], m["detail"])
					}
					return fmt.Errorf("schema of %s not changed (use --force to replace it anyway; it is recorded)", args[0])
				}
			}
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g, res)
			}
			if !res.Changed {
				fmt.Fprintf(g.out, "schema of %s unchanged (v%d)\n", args[0], res.Version.Version)
				return nil
			}
			fmt.Fprintf(g.out, "schema of %s is now v%d", args[0], res.Version.Version)
			if res.Forced {
				fmt.Fprintf(g.out, " (forced over %d breaking change(s))", len(res.Breaking))
			}
			fmt.Fprintln(g.out)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace even with breaking changes (operators only; recorded in the version history)")
	return cmd
}

func newStreamRm(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME",
		Short: "Delete a stream and all its events",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := g.client().do(cmd.Context(), "DELETE", "/v1/streams/"+url.PathEscape(args[0]), "", nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "deleted stream %s\n", args[0])
			return nil
		},
	}
}

func printJSON(g *globals, v any) error {
	enc := json.NewEncoder(g.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
