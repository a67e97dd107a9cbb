package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/token"
)

// tokenFlag is --token: every request sends it as a bearer token.
func tokenFlag(root *cobra.Command, g *globals) {
	root.PersistentFlags().StringVar(&g.token, "token", "", "access token, sent as Authorization: Bearer (env SLUICE_TOKEN; prefer the variable: a flag shows in ps)")
}

// bearer adds the token to every request of a transport to the server's
// host (not to where a redirect may lead).
type bearer struct {
	token, host string
	next        http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.token == "" || r.URL.Host != b.host {
		return b.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func (g *globals) bearerToken() string {
	if g.token != "" {
		return g.token
	}
	return os.Getenv("SLUICE_TOKEN")
}

type tokenView struct {
	token.Token
	Text string `json:"token,omitempty"`
}

func newToken(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Make, list and revoke access tokens (docs/ACCESS.md)"}
	var grants []string
	var expires string
	create := &cobra.Command{Use: "create NAME --grant RESOURCE=ROLE...", Short: "Make a token; its text is printed this once",
		Long: "Make a token with grants: RESOURCE is KIND:NAME (stream, pipeline, table, function, source; * matches any run of\n" +
			"characters) or * for everything; ROLE is read, produce, invoke, operate or admin. A token can only give what it has.\n\n" +
			"  sluice token create readers --grant 'stream:wiki.*=read' --grant 'table:*=read' --expires 30d",
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := map[string]any{"name": args[0]}
			var gs []token.Grant
			for _, s := range grants {
				gr, err := token.ParseGrant(s)
				if err != nil {
					return fmt.Errorf("--grant: %w", err)
				}
				gs = append(gs, gr)
			}
			if len(gs) == 0 {
				return fmt.Errorf("--grant: at least one, e.g. --grant 'stream:wiki.*=read'")
			}
			req["grants"] = gs
			if expires != "" {
				req["expires"] = expires
			}
			var out tokenView
			if err := g.client().sendJSON(cmd.Context(), "POST", "/v1/tokens", req, &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(g, out)
			}
			fmt.Fprintf(g.out, "token %s (%s) made; its text, shown this once:\n\n%s\n\nuse it: export SLUICE_TOKEN=...; revoke it: sluice token rm %s\n",
				out.Name, out.ID, out.Text, out.ID)
			return nil
		}}
	create.Flags().StringArrayVar(&grants, "grant", nil, "RESOURCE=ROLE, repeatable: stream:wiki.*=read, pipeline:team-a.*=operate, *=admin")
	create.Flags().StringVar(&expires, "expires", "", "lifetime from now: 720h, 30d (default: never)")
	ls := &cobra.Command{Use: "ls", Short: "List the tokens you may see (never their text)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Tokens []token.Token `json:"tokens"`
			}
			if err := g.client().getJSON(cmd.Context(), "/v1/tokens", &out); err != nil {
				return err
			}
			if g.json {
				return printJSON(g, out)
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tGRANTS\tCREATED\tEXPIRES\tLAST USED")
			for _, t := range out.Tokens {
				var gs []string
				for _, gr := range t.Grants {
					gs = append(gs, gr.String())
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, strings.Join(gs, " "), t.Created.Local().Format(time.DateTime),
					timeOrDash(t.Expires), timeOrDash(t.LastUsed))
			}
			return tw.Flush()
		}}
	rm := &cobra.Command{Use: "rm ID", Short: "Revoke a token: every node refuses it within a second", Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := g.client().do(cmd.Context(), "DELETE", "/v1/tokens/"+url.PathEscape(args[0]), "", nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "token %s revoked\n", args[0])
			return nil
		}}
	cmd.AddCommand(create, ls, rm)
	return cmd
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}
