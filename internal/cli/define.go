package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/user"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/sluice-dev/sluice/internal/catalog"
)

// defineCommands are create, update, rm, spec and history of one kind's
// definitions (docs/SELF-SERVICE.md), added to its command.
func defineCommands(g *globals, k catalog.Kind) []*cobra.Command {
	one := k.Singular()
	var file, reset string
	var force bool
	put := func(method string) func(cmd *cobra.Command, args []string) error {
		return func(cmd *cobra.Command, args []string) error {
			spec, err := readSpecFile(file, cmd.InOrStdin())
			if err != nil {
				return err
			}
			path := "/v1/" + string(k)
			if method == "PUT" {
				path += "/" + url.PathEscape(args[0])
			} else {
				spec["name"] = args[0]
			}
			q := url.Values{}
			if reset != "" {
				q.Set("reset", reset)
			}
			if force {
				q.Set("force", "true")
			}
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			var out struct {
				Version int      `json:"version"`
				Changed bool     `json:"changed"`
				Fields  []string `json:"fields"`
			}
			if err := g.client().sendJSON(cmd.Context(), method, path, spec, &out); err != nil {
				return fieldErrors(err)
			}
			if g.json {
				return printJSON(g, out)
			}
			switch {
			case method == "POST":
				fmt.Fprintf(g.out, "+ %s.%s (version %d)\n", k, args[0], out.Version)
			case !out.Changed:
				fmt.Fprintf(g.out, "no changes to %s.%s\n", k, args[0])
			default:
				fmt.Fprintf(g.out, "~ %s.%s (%s) (version %d)\n", k, args[0], strings.Join(out.Fields, ", "), out.Version)
			}
			return nil
		}
	}
	create := &cobra.Command{Use: "create NAME [-f FILE]", Short: "Create a " + one + " from YAML or JSON (the fields of its sluice.yaml entry); runs at once",
		Args: exactArgs("NAME"), RunE: put("POST")}
	update := &cobra.Command{Use: "update NAME [-f FILE]", Short: "Create or replace a " + one + "; it restarts alone and keeps its position",
		Args: exactArgs("NAME"), RunE: put("PUT")}
	for _, c := range []*cobra.Command{create, update} {
		c.Flags().StringVarP(&file, "file", "f", "-", "the spec, YAML or JSON; - for standard input")
		if k == catalog.Pipelines {
			c.Flags().StringVar(&reset, "reset", "", "where to start when from changes: earliest, latest, a sequence or a time")
		}
		if k == catalog.Streams {
			c.Flags().BoolVar(&force, "force", false, "replace a schema that breaks consumers")
		}
	}
	rm := &cobra.Command{Use: "rm NAME", Short: "Delete a " + one + " (refused while others use it, unless --force)", Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/v1/" + string(k) + "/" + url.PathEscape(args[0])
			if force {
				path += "?force=true"
			}
			if _, err := g.client().do(cmd.Context(), "DELETE", path, "", nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "- %s.%s\n", k, args[0])
			return nil
		}}
	rm.Flags().BoolVar(&force, "force", false, "delete even if others use it")
	spec := &cobra.Command{Use: "spec NAME", Short: "Print a " + one + "'s spec as YAML (edit it, then update -f)", Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Spec json.RawMessage `json:"spec"`
			}
			if err := g.client().getJSON(cmd.Context(), "/v1/"+string(k)+"/"+url.PathEscape(args[0]), &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(g, out.Spec)
			}
			var v any
			if err := json.Unmarshal(out.Spec, &v); err != nil {
				return fmt.Errorf("no spec in the answer: %w", err)
			}
			y, err := yaml.Marshal(v)
			if err != nil {
				return err
			}
			_, err = g.out.Write(y)
			return err
		}}
	history := &cobra.Command{Use: "history NAME", Short: "Every version of a " + one + ": who, when, which fields", Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Versions []catalog.Change `json:"versions"`
			}
			if err := g.client().getJSON(cmd.Context(), "/v1/"+string(k)+"/"+url.PathEscape(args[0])+"/history", &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(g, out.Versions)
			}
			for _, v := range out.Versions {
				fmt.Fprintf(g.out, "%d\t%s\t%s\t%s\t%v\n", v.Version, v.At.Format("2006-01-02T15:04:05Z"), v.Op, v.By, v.Fields)
			}
			return nil
		}}
	cmds := []*cobra.Command{create, update, rm, spec, history}
	if k == catalog.Streams {
		return []*cobra.Command{update, spec, history} // stream create and rm exist
	}
	return cmds
}

// readSpecFile reads a spec (YAML or JSON) from a file or standard input.
func readSpecFile(file string, stdin io.Reader) (map[string]any, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, 16<<20))
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: want a YAML or JSON mapping (the fields of the entry in sluice.yaml): %w", file, err)
	}
	return v, nil
}

// whoami is what the CLI says made a change (the history's by).
func whoami() string {
	name := "someone"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host + " (sluice CLI)"
}
