package pipetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/filter"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/invocation"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// Summary counts the cases.
type Summary struct{ Passed, Failed int }

// Run runs every test file of a project and reports to w.
func Run(ctx context.Context, dir string, cfg *config.Config, reg *function.Registry, w io.Writer) (Summary, error) {
	files, err := Load(dir)
	if err != nil {
		return Summary{}, err
	}
	if len(files) == 0 {
		return Summary{}, fmt.Errorf("no tests in %s (want tests/*.yaml or *_test.yaml)", dir)
	}
	schemas, err := streamSchemas(cfg)
	if err != nil {
		return Summary{}, err
	}
	var sum Summary
	for _, f := range files {
		if err := runFile(ctx, f, cfg, reg, schemas, w, &sum); err != nil {
			return sum, fmt.Errorf("%s: %w", f.path, err)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", sum.Passed, sum.Failed)
	return sum, nil
}

func streamSchemas(cfg *config.Config) (map[string]*schema.Schema, error) {
	declared, err := cfg.Declared()
	if err != nil {
		return nil, err
	}
	out := map[string]*schema.Schema{}
	for _, d := range declared {
		s, err := schema.Compile(d.Schema)
		if err != nil {
			return nil, fmt.Errorf("streams.%s.schema: %w", d.Def.Name, err)
		}
		out[d.Def.Name] = s
	}
	return out, nil
}

func runFile(ctx context.Context, f File, cfg *config.Config, reg *function.Registry, schemas map[string]*schema.Schema, w io.Writer, sum *Summary) error {
	pl, ok := cfg.Pipelines[f.Pipeline]
	if !ok {
		return fmt.Errorf("pipeline %q is not in the config", f.Pipeline)
	}
	var where *filter.Filter
	if pl.Where != "" {
		var err error
		if where, err = filter.Compile(pl.Where); err != nil {
			return err
		}
	}
	var simURL string
	if f.MediaWikiSim {
		stop, u, err := startSim()
		if err != nil {
			return err
		}
		defer stop()
		simURL = u
	}
	fn, err := pipelineFunction(reg, pl.Function, strings.TrimPrefix(simURL, "http://"))
	if err != nil {
		return fmt.Errorf("pipelines.%s.function: %w", f.Pipeline, err)
	}
	if c, ok := fn.(io.Closer); ok {
		defer c.Close()
	}
	for _, c := range f.Cases {
		problems, err := runCase(ctx, c, fn, where, pl, schemas, simURL)
		if err != nil {
			return fmt.Errorf("case %q: %w", c.Name, err)
		}
		if len(problems) == 0 {
			sum.Passed++
			fmt.Fprintf(w, "PASS %s: %s\n", f.Pipeline, c.Name)
			continue
		}
		sum.Failed++
		fmt.Fprintf(w, "FAIL %s: %s\n", f.Pipeline, c.Name)
		for _, p := range problems {
			fmt.Fprintf(w, "     %s\n", strings.ReplaceAll(p, "\n", "\n     "))
		}
	}
	return nil
}

// pipelineFunction is the function a test runs: the pipeline's, as the
// node runs it (a named function is the same one: its processes, its
// endpoint). With the simulator at simHost, the function's config lets
// it in: a named function gets its preset config so changed, on the same
// processes.
func pipelineFunction(reg *function.Registry, ref config.FunctionRef, simHost string) (function.Function, error) {
	n, named := reg.Lookup(ref.Name)
	switch {
	case simHost == "":
		return reg.New(ref.Name, ref.Config)
	case !named:
		return reg.New(ref.Name, withAllowedHost(ref.Config, simHost))
	case len(ref.Config) > 0:
		return reg.New(ref.Name, ref.Config) // refused: a named function has its config
	}
	if f, ok := n.Function.(*invocation.Function); ok {
		return f.WithConfig(withAllowedHost(n.Config, simHost))
	}
	return reg.New(n.Kind, withAllowedHost(n.Config, simHost))
}

// withAllowedHost lets the function call the simulator (an exact host, so http is allowed).
func withAllowedHost(cfg map[string]any, host string) map[string]any {
	out := map[string]any{}
	for k, v := range cfg {
		out[k] = v
	}
	out["allowed_hosts"] = []any{host}
	return out
}

func startSim() (stop func(), base string, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	sim := mediawiki.New(mediawiki.Options{})
	hs := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	return func() {
		sim.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}, "http://" + ln.Addr().String(), nil
}

// toSim points an event's wiki at the simulator: server_url becomes
// <sim>/<original host>, which the simulator reads as the wiki.
func toSim(ev map[string]any, simURL string) {
	su, _ := ev["server_url"].(string)
	u, err := url.Parse(su)
	if err != nil || u.Host == "" {
		return
	}
	ev["server_url"] = simURL + "/" + u.Host
}

func runCase(ctx context.Context, c Case, fn function.Function, where *filter.Filter, pl config.Pipeline,
	schemas map[string]*schema.Schema, simURL string) ([]string, error) {
	var events []json.RawMessage
	var problems []string
	for i, in := range c.Input {
		m, ok := in.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("input[%d]: an event is a mapping", i)
		}
		raw, err := toJSON(m)
		if err != nil {
			return nil, err
		}
		if where != nil {
			doc, _ := schema.Decode(raw)
			if ok, err := where.Match(doc); err != nil || !ok {
				continue
			}
		}
		if simURL != "" {
			toSim(m, simURL)
			raw, _ = toJSON(m)
		}
		events = append(events, raw)
	}
	type got struct {
		out json.RawMessage
		err error
	}
	var gots []got
	switch {
	case c.Mock != nil:
		for range events {
			if c.Mock.Error != "" {
				gots = append(gots, got{err: errors.New(c.Mock.Error)})
				continue
			}
			for _, o := range c.Mock.Outputs {
				raw, err := toJSON(o)
				if err != nil {
					return nil, err
				}
				gots = append(gots, got{out: raw})
			}
		}
	case len(events) > 0:
		for _, res := range fn.Call(ctx, events) {
			if res.Err != nil {
				gots = append(gots, got{err: res.Err})
				continue
			}
			for _, o := range res.Outputs {
				gots = append(gots, got{out: o})
			}
		}
	}
	for i, g := range gots {
		if g.err != nil {
			continue
		}
		for _, to := range pl.To {
			if s := schemas[to.Stream]; s != nil {
				doc, _ := schema.Decode(g.out)
				for _, v := range s.Validate(doc) {
					problems = append(problems, fmt.Sprintf("output %d does not fit stream %s: %s: %s: %s", i, to.Stream, orRoot(v.Pointer), v.Keyword, v.Message))
				}
			}
		}
	}
	if len(gots) != len(c.Expect) {
		problems = append(problems, fmt.Sprintf("got %d result(s), want %d:\n%s", len(gots), len(c.Expect), listGots(gots)))
		return problems, nil
	}
	for i, e := range c.Expect {
		if p := check(e, gots[i].out, gots[i].err); p != "" {
			problems = append(problems, fmt.Sprintf("output %d: %s", i, p))
		}
	}
	return problems, nil
}

func listGots[T any](gots []T) string {
	var b strings.Builder
	for i, g := range gots {
		fmt.Fprintf(&b, "  %d: %+v\n", i, g)
	}
	return b.String()
}

func orRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
