package cli

import (
	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

func newMediaWikiSim(g *globals) *cobra.Command {
	var addr string
	var o mediawiki.Options
	cmd := &cobra.Command{
		Use:   "mediawiki-sim",
		Short: "Serve a simulated MediaWiki Action API (prop=images, parse by revision) for offline demos and tests",
		Long: "Answers http://ADDR/{host}/w/api.php (or the Host header) for any wiki, with deterministic pages:\n" +
			"page ids and image lists derived from host, title and revision, images changing from revision to\n" +
			"revision, redirects ('Redirect to X'), missing pages ('Missing...'), continuation, and faults.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv := mediawiki.New(o)
			return serveStandIn(cmd, g, addr, srv, srv.Close, "simulated MediaWiki API at http://%s/{host}/w/api.php")
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&addr, "addr", "127.0.0.1:8093", "listen address")
	fl.DurationVar(&o.Latency, "latency", 0, "added to every answer (e.g. 50ms)")
	fl.IntVar(&o.ImLimit, "imlimit", 0, "cap imlimit (small values force continuation)")
	fl.IntVar(&o.MaxlagEvery, "maxlag-every", 0, "fault: every Nth request answers a maxlag error")
	fl.IntVar(&o.Status429Every, "429-every", 0, "fault: every Nth request answers 429")
	fl.IntVar(&o.Status5xxEvery, "503-every", 0, "fault: every Nth request answers 503")
	return cmd
}
