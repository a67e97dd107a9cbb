package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	wikiimages "github.com/sluice-dev/sluice/examples/wiki-images"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/files"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/wikisim/history"
)

// The parts of the flagship project the demo points elsewhere.
const (
	demoSource   = "recentchange"
	demoPipeline = "wiki_image_list"
	demoData     = "./data-demo"

	// The built-in project's function runs in this mode, with this many
	// requests in flight per wiki, in the demo.
	demoMode        = "revision"
	demoConcurrency = 8
)

func newDemo(g *globals) *cobra.Command {
	f := &serveFlags{}
	o := demoOptions{replayAt: "127.0.0.1:0", apiAt: "127.0.0.1:0"}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the flagship project (examples/wiki-images) offline: recorded real events replayed as a live feed, and a simulated MediaWiki API",
		Long: "Runs the node as `serve --config examples/wiki-images/sluice.yaml` would, with the project built into\n" +
			"the binary and nothing reaching the network: the source reads the recorded real recentchange\n" +
			"events, replayed on loopback in a loop with fresh ids and times shifted to now (--rate a second;\n" +
			"a fresh data directory first gets an hour of history; from loop to loop the pages evolve: images\n" +
			"added and removed, pages deleted and created again), and the pipeline's function asks a\n" +
			"simulated MediaWiki API on loopback (its api_base), which answers by the same history, instead\n" +
			"of the wikis (for the built-in project in mode revision: each edit's own images). Once the table\n" +
			"holds one, the demo prints a page whose images changed and how to see it. The data directory\n" +
			"defaults to " + demoData + ", apart from a live node's; run the demo again to continue where it stopped.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.rate <= 0 {
				return errors.New("--rate: want more than 0 events a second")
			}
			st, err := startStandIns(o)
			if err != nil {
				return err
			}
			defer st.Close()
			cfg, err := demoConfig(cmd, f, st, o.mode)
			if err != nil {
				return err
			}
			tuneGC()
			so := f.options(g)
			var wg sync.WaitGroup
			defer wg.Wait()
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			so.started = func(n *node.Node) {
				printDemo(g.out, cfg, n, st, o)
				if p, ok := st.history.Changing(); ok {
					c := &client{base: n.URL(), http: g.client().http}
					wg.Go(func() { watchChange(ctx, g.out, c, cfg, p) })
				}
			}
			return serve(ctx, cfg, newLogger(g, f.logLevel), so)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "run this copy of the project instead of the built-in examples/wiki-images (with its source "+demoSource+" and pipeline "+demoPipeline+")")
	f.register(cmd, demoData)
	fl.Float64Var(&o.rate, "rate", 50, "events per second of the replayed feed")
	fl.DurationVar(&o.history, "history", time.Hour, "on a fresh data directory, replay this much history first (one event a second); 0: none")
	fl.DurationVar(&o.latency, "api-latency", 50*time.Millisecond, "added to every answer of the simulated MediaWiki API")
	fl.StringVar(&o.mode, "function-mode", "", "the function's mode: revision (each edit's own images, "+strconv.Itoa(demoConcurrency)+
		" requests in flight per wiki: the default for the built-in project) or current (the page's images when asked, batched: the default with --config)")
	return cmd
}

// demoConfig writes the embedded project under the data directory, loads
// it (or the --config given), and points it at the stand-ins: the source
// at the replay, the function at the simulated API (api_base) in mode
// (see --function-mode), the pipeline at the start of the stream.
func demoConfig(cmd *cobra.Command, f *serveFlags, st *standIns, mode string) (*config.Config, error) {
	data := demoData
	if cmd.Flags().Changed("data") {
		data = f.data
	}
	dir := filepath.Join(data, "project")
	if err := writeFS(dir, wikiimages.Project()); err != nil {
		return nil, fmt.Errorf("write the project: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sample-event.json"), append(st.recorded[0], '\n'), 0o644); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "sluice.yaml")
	if f.config != "" {
		path = f.config
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	cfg.Data = data
	f.apply(cmd, cfg)
	src, ok := cfg.Sources[demoSource]
	if !ok || src.Settings("sse") == nil {
		return nil, fmt.Errorf("the embedded project has no sse source %q", demoSource)
	}
	cfg.Sources[demoSource] = src.With("sse", map[string]any{"url": st.feedURL, "since": nil})
	pl, ok := cfg.Pipelines[demoPipeline]
	if !ok {
		return nil, fmt.Errorf("the embedded project has no pipeline %q", demoPipeline)
	}
	pl.Start = "earliest" // the demo's stream holds only the demo's events
	pl.Function.Config = maps.Clone(pl.Function.Config)
	if pl.Function.Config == nil {
		pl.Function.Config = map[string]any{}
	}
	pl.Function.Config["api_base"] = st.apiURL
	switch {
	case mode == "" && f.config != "": // a copy of the project runs as it says
	case mode == "" || mode == demoMode:
		// The hour of history is processed at once at start: mode current
		// would give all of it the images of that moment. Mode revision
		// asks for each edit's own, which the simulated API answers by the
		// feed's history; more requests in flight make up for one request
		// an edit, on loopback.
		pl.Function.Config["mode"] = demoMode
		pl.Function.Config["max_concurrency_per_wiki"] = demoConcurrency
	default:
		pl.Function.Config["mode"] = mode // validated with the config
	}
	cfg.Pipelines[demoPipeline] = pl
	return cfg, cfg.Validate()
}

// writeFS writes every file of fsys under dir, replacing older copies.
func writeFS(dir string, fsys fs.FS) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// printDemo says what runs and gives commands to copy; watchChange
// gives more once the table holds a change.
func printDemo(w io.Writer, cfg *config.Config, n *node.Node, st *standIns, o demoOptions) {
	server := serverFlag(n.URL())
	hist := ""
	if o.history > 0 {
		hist = ", after " + shortDuration(o.history) + " of history on a fresh data directory"
	}
	mode, _ := cfg.Pipelines[demoPipeline].Function.Config["mode"].(string)
	asks := ""
	if mode == demoMode {
		asks = "; the function asks it\n         for each edit's own images (mode " + demoMode + "), so the history is right too"
	}
	fmt.Fprintf(w, `
sluice demo: the flagship project (examples/wiki-images), offline
  feed   %d recorded real recentchange events, looped with fresh ids and times shifted to now,
         %g events/s%s; replayed at %s
  wikis  from loop to loop the pages evolve: one edit in %d adds or removes an image, and one
         page in %d is deleted now and then (a log event) and created again
  API    simulated MediaWiki API at %s/{host}/w/api.php, %s per request%s
  node   API and UI at %s/, data in %s
  %s

Try, in another terminal (sluice is "go run ./cmd/sluice" from the repository, or your build):
  # follow the function's outputs
  sluice tail wiki.page_images -f%s
  # run the pipeline (its where and function) on a recorded event; nothing is written
  sluice invoke --pipeline %s %s%s
A page whose images changed follows, once the table has one.

`, len(st.recorded), o.rate, hist, st.feedURL, history.ChangeOneIn, history.DeletedOneIn,
		st.apiURL, o.latency, asks, n.URL(), cfg.Data, outputs(cfg),
		server, demoPipeline, filepath.Join(cfg.Data, "project", "sample-event.json"), server)
}

// serverFlag is the --server flag the printed commands need, if any.
func serverFlag(base string) string {
	if base != "http://"+config.DefaultAddr {
		return " --server " + base
	}
	return ""
}

// outputs says where the demo's pipeline writes.
func outputs(cfg *config.Config) string {
	var to []string
	for _, o := range cfg.Pipelines[demoPipeline].To {
		kind, settings := o.Kind()
		switch kind {
		case "stream":
			to = append(to, "stream "+o.Stream())
		case "table":
			to = append(to, "table "+o.Table())
		case "sql":
			m, _ := settings.(map[string]any)
			to = append(to, fmt.Sprintf("sql table %v", m["table"]))
		case "files":
			f, err := files.Decode(settings)
			if err != nil {
				continue
			}
			where := files.Redact(f.URL)
			if u, err := url.Parse(f.URL); err == nil && u.Scheme == "file" && u.Opaque != "" {
				where = filepath.Join(cfg.Data, filepath.FromSlash(u.Opaque)) // under the data directory
			}
			to = append(to, "files in "+where)
		}
	}
	return fmt.Sprintf("%-6s %s writes %s", "out", demoPipeline, strings.Join(to, ", "))
}

// shortDuration writes 1h rather than 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
