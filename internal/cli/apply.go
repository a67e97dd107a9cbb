package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/project"
)

// newApply is `sluice apply`: a project's definitions made current on a
// node (docs/SELF-SERVICE.md).
func newApply(g *globals) *cobra.Command {
	var dryRun, prune, force bool
	var resets []string
	cmd := &cobra.Command{
		Use:   "apply FILE|DIR",
		Short: "Create or update what a project (sluice.yaml, its schemas and code) declares; print the plan (+ create, ~ update, - delete)",
		Long: `apply reads a project (a sluice.yaml, or a folder holding one), its schemas and the
paths of its function code relative to it, prints what would change, one line each
(+ create, ~ update with the fields that change, - delete), then applies it.
What the project does not declare is left alone unless --prune (streams, which
hold events, only with --force too). A schema that breaks consumers needs --force.
A second apply of the same project plans no change.`,
		Args: exactArgs("FILE|DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			defs, err := readProject(args[0])
			if err != nil {
				return err
			}
			req := map[string]any{"definitions": defs}
			if len(resets) > 0 {
				m := map[string]string{}
				for _, r := range resets {
					name, pos, ok := strings.Cut(r, "=")
					if !ok {
						return fmt.Errorf("--reset %q: want PIPELINE=POSITION", r)
					}
					m[name] = pos
				}
				req["resets"] = m
			}
			q := url.Values{}
			for name, v := range map[string]bool{"dry_run": dryRun, "prune": prune, "force": force} {
				if v {
					q.Set(name, "true")
				}
			}
			var plan project.Plan
			if err := g.client().sendJSON(cmd.Context(), "POST", "/v1/apply?"+q.Encode(), req, &plan); err != nil {
				return fieldErrors(err)
			}
			if g.json {
				return printJSON(g, plan)
			}
			fmt.Fprint(g.out, plan.String())
			switch {
			case dryRun && len(plan.Changes) > 0:
				fmt.Fprintln(g.out, "(dry run: nothing changed)")
			case plan.Applied && len(plan.Changes) > 0:
				fmt.Fprintf(g.out, "applied %d change(s)\n", countApplied(plan, force))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan only")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete what the project does not declare (streams only with --force)")
	cmd.Flags().BoolVar(&force, "force", false, "replace schemas that break consumers; with --prune, delete streams")
	cmd.Flags().StringArrayVar(&resets, "reset", nil, "PIPELINE=POSITION: where a pipeline whose input stream (from) changes starts")
	return cmd
}

func countApplied(p project.Plan, force bool) int {
	n := 0
	for _, c := range p.Changes {
		if c.Op != project.Delete || c.Kind != catalog.Streams || force {
			n++
		}
	}
	return n
}

// readProject reads FILE, or DIR/sluice.yaml, as definitions.
func readProject(path string) ([]catalog.Definition, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "sluice.yaml")
	}
	c, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	return c.Definitions()
}

// fieldErrors prints a 422's list of field errors one per line.
func fieldErrors(err error) error {
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != 422 {
		return err
	}
	list, _ := ae.Body["errors"].([]any)
	if len(list) == 0 {
		return err
	}
	var b strings.Builder
	b.WriteString(ae.Title + ":")
	for _, e := range list {
		m, _ := e.(map[string]any)
		p, _ := m["path"].(string)
		msg, _ := m["message"].(string)
		if p != "" {
			msg = p + ": " + msg
		}
		b.WriteString("\n  " + msg)
	}
	return errors.New(b.String())
}

// newExport is `sluice export`: the catalog as a project.
func newExport(g *globals) *cobra.Command {
	var kind string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Print the node's definitions as a sluice.yaml that apply recreates (schemas inline)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "/v1/definitions"
			if kind != "" {
				path += "?kind=" + url.QueryEscape(kind)
			}
			var list struct {
				Definitions []catalog.Definition `json:"definitions"`
			}
			if err := g.client().getJSON(cmd.Context(), path, &list); err != nil {
				return err
			}
			if g.json {
				return printJSON(g, list.Definitions)
			}
			out, err := projectYAML(list.Definitions)
			if err != nil {
				return err
			}
			_, err = g.out.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "only this kind: streams, tables, functions, sources or pipelines")
	return cmd
}

// projectYAML writes definitions as a sluice.yaml, kinds in their order.
func projectYAML(defs []catalog.Definition) ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.MappingNode}
	byKind := map[catalog.Kind]*yaml.Node{}
	for _, k := range catalog.Kinds {
		for _, d := range defs {
			if d.Kind != k {
				continue
			}
			m, ok := byKind[k]
			if !ok {
				m = &yaml.Node{Kind: yaml.MappingNode}
				byKind[k] = m
				doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: string(k)}, m)
			}
			var v any
			if err := json.Unmarshal(d.Spec, &v); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", d.Kind, d.Name, err)
			}
			var n yaml.Node
			if err := n.Encode(v); err != nil {
				return nil, err
			}
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: d.Name}, &n)
		}
	}
	head := "# sluice export: apply it with `sluice apply FILE`\n"
	if len(doc.Content) == 0 {
		return []byte(head + "{}\n"), nil
	}
	out, err := yaml.Marshal(doc)
	return append([]byte(head), out...), err
}
