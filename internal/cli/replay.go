package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/wikisim/eventstreams"
)

func newReplay(g *globals) *cobra.Command {
	var addr string
	var o eventstreams.Options
	cmd := &cobra.Command{
		Use:   "eventstreams-replay FILE...",
		Short: "Serve recorded events over HTTP exactly like Wikimedia EventStreams (offline demos and tests)",
		Long: "Serves NDJSON, JSON-array or raw SSE capture files at /v2/stream/{streams}: the :ok preamble,\n" +
			"event: message, id: as Wikimedia's JSON array, since=, Last-Event-ID and /?spec.\n" +
			"Point a source at http://ADDR/v2/stream/recentchange.",
		Args: argsBetween(1, -1, "FILE..."),
		RunE: func(cmd *cobra.Command, args []string) error {
			events, err := eventstreams.Load(args...)
			if err != nil {
				return err
			}
			srv := eventstreams.New(events, o)
			return serveStandIn(cmd, g, addr, srv, srv.Close,
				fmt.Sprintf("replaying %d events at http://%%s/v2/stream/recentchange", len(events)))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&addr, "addr", "127.0.0.1:8092", "listen address")
	fl.Float64Var(&o.Rate, "rate", 0, "events per second per connection (0: as fast as the client reads)")
	fl.BoolVar(&o.Realtime, "realtime", false, "pace by the gaps between the events' meta.dt")
	fl.BoolVar(&o.Loop, "loop", false, "start again at the end, with times shifted forward and fresh meta.id, like a live feed")
	fl.IntVar(&o.DropEvery, "drop-every", 0, "fault: cut the connection after every N events")
	fl.IntVar(&o.Status429Every, "429-every", 0, "fault: answer every Nth connection with 429 and Retry-After: 1")
	fl.IntVar(&o.SilentAfter, "silent-after", 0, "fault: go silent (connection open, no bytes) after N events")
	return cmd
}
