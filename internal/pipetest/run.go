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
	"github.com/sluice-dev/sluice/internal/field"
	"github.com/sluice-dev/sluice/internal/filter"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/invocation"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
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
	rules, err := streamRules(cfg)
	if err != nil {
		return Summary{}, err
	}
	var sum Summary
	for _, f := range files {
		if err := runFile(ctx, f, cfg, reg, rules, w, &sum); err != nil {
			return sum, fmt.Errorf("%s: %w", f.path, err)
		}
	}
	noteOffline(w, cfg, files)
	fmt.Fprintf(w, "%d passed, %d failed\n", sum.Passed, sum.Failed)
	return sum, nil
}

// streamRules are what each declared stream refuses, as a node running
// the project would check it (its schema, id and time, the limits).
func streamRules(cfg *config.Config) (map[string]stream.Rules, error) {
	declared, err := cfg.Declared()
	if err != nil {
		return nil, err
	}
	lim := stream.Limits{MaxEventBytes: int(cfg.Limits.MaxEventBytes), MaxNumberLength: cfg.Limits.MaxNumberLength}
	out := map[string]stream.Rules{}
	for _, d := range declared {
		s, err := schema.Compile(d.Schema)
		if err != nil {
			return nil, fmt.Errorf("streams.%s.schema: %w", d.Def.Name, err)
		}
		def := d.Def
		def.Defaults()
		out[def.Name] = stream.Rules{Def: def, Schema: s, Limits: lim}
	}
	return out, nil
}

// outputChecks are the checks of a pipeline's outputs, in the order the
// pipeline writes them (streams first), as the node builds them; files
// outputs read an output stream and refuse nothing of their own.
func outputChecks(cfg *config.Config, name string, pl config.Pipeline, rules map[string]stream.Rules) ([]pipeline.Check, error) {
	var streams, others []pipeline.Check
	for i, o := range pl.To {
		p := fmt.Sprintf("pipelines.%s.to[%d]", name, i)
		kind, settings := o.Kind()
		switch kind {
		case pipeline.StreamKind.Name:
			r, ok := rules[o.Stream()]
			if !ok {
				return nil, fmt.Errorf("%s.stream: %q is not declared under streams: a test checks outputs against its schema", p, o.Stream())
			}
			streams = append(streams, pipeline.StreamCheck(o.Stream(), r))
		case pipeline.SQLKind.Name:
			var sc pipeline.SQLOutputConfig
			if err := field.Decode(settings, &sc); err != nil {
				return nil, fmt.Errorf("%s.sql: %w", p, err)
			}
			sc.Dir = cfg.Data
			c, err := pipeline.SQLCheck(sc)
			if err != nil {
				return nil, fmt.Errorf("%s.sql: %w", p, err)
			}
			others = append(others, c)
		case pipeline.TableKind.Name:
			tb := cfg.Tables[o.Table()]
			c, err := pipeline.TableCheck(o.Table(), tb.Key, tb.Time, tb.DeleteWhen)
			if err != nil {
				return nil, fmt.Errorf("%s: tables.%s.%w", p, o.Table(), err)
			}
			others = append(others, c)
		}
	}
	return append(streams, others...), nil
}

func runFile(ctx context.Context, f File, cfg *config.Config, reg *function.Registry, rules map[string]stream.Rules, w io.Writer, sum *Summary) error {
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
	checks, err := outputChecks(cfg, f.Pipeline, pl, rules)
	if err != nil {
		return err
	}
	in, ok := rules[pl.From]
	if !ok {
		return fmt.Errorf("pipelines.%s.from: %q is not declared under streams: a test checks inputs against its schema", f.Pipeline, pl.From)
	}
	for _, c := range f.Cases {
		step := pipeline.Step{Where: where, Function: fn, Checks: checks}
		if simURL != "" {
			step.Function = simFunction{fn, simURL}
		}
		problems, err := runCase(ctx, c, step, pl.From, in)
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
func pipelineFunction(reg *function.Registry, ref pipeline.FunctionRef, simHost string) (function.Function, error) {
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

// simFunction is a function that calls the simulator instead of the
// wikis: where sees the events as they are, the function with their wiki
// pointed at the simulator.
type simFunction struct {
	fn     function.Function
	simURL string
}

func (f simFunction) Call(ctx context.Context, events []json.RawMessage) []function.Result {
	out := make([]json.RawMessage, len(events))
	for i, e := range events {
		out[i] = e
		var m map[string]any
		if json.Unmarshal(e, &m) == nil {
			toSim(m, f.simURL)
			out[i], _ = json.Marshal(m)
		}
	}
	return f.fn.Call(ctx, out)
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

// mock is a case's stand-in function.
type mock struct {
	outputs []json.RawMessage
	err     error
}

func newMock(m *Mock) (mock, error) {
	if m.Error != "" {
		return mock{err: errors.New(m.Error)}, nil
	}
	var f mock
	for i, o := range m.Outputs {
		raw, err := toJSON(o)
		if err != nil {
			return mock{}, fmt.Errorf("mock.outputs[%d]: %w", i, err)
		}
		f.outputs = append(f.outputs, raw)
	}
	return f, nil
}

func (f mock) Call(_ context.Context, events []json.RawMessage) []function.Result {
	out := make([]function.Result, len(events))
	for i := range out {
		out[i] = function.Result{Outputs: f.outputs, Err: f.err}
	}
	return out
}

// got is one result of a case: an output, or an input's error.
type got struct {
	input int
	out   json.RawMessage
	err   error
}

// runCase checks the case's inputs as its input stream would, runs the
// pipeline's step on them (where, function, output checks) and compares
// what it gives with the expectations. An input the stream would refuse
// fails the case: the pipeline would never see it.
func runCase(ctx context.Context, c Case, step pipeline.Step, from string, in stream.Rules) ([]string, error) {
	var events []json.RawMessage
	var problems []string
	for i, v := range c.Input {
		if _, ok := v.(map[string]any); !ok {
			return nil, fmt.Errorf("input[%d]: an event is a mapping", i)
		}
		raw, err := toJSON(v)
		if err != nil {
			return nil, err
		}
		for _, v := range in.Check(raw) {
			problems = append(problems, fmt.Sprintf("input[%d]: stream %s refuses it: %s: %s: %s", i, from, orRoot(v.Pointer), v.Keyword, v.Message))
		}
		events = append(events, raw)
	}
	if len(problems) > 0 {
		return problems, nil
	}
	if c.Mock != nil {
		m, err := newMock(c.Mock)
		if err != nil {
			return nil, err
		}
		step.Function = m
	}
	outcomes, err := step.Run(ctx, events)
	if err != nil && !errors.Is(err, function.ErrUnavailable) { // unavailable: each input's error
		return nil, err
	}
	var gots []got
	for i, o := range outcomes {
		switch {
		case o.Skipped:
		case o.Err != nil:
			gots = append(gots, got{input: i, err: o.Err})
		default:
			for _, out := range o.Outputs {
				gots = append(gots, got{input: i, out: out})
			}
		}
	}
	if len(gots) != len(c.Expect) {
		problems = append(problems, fmt.Sprintf("got %d result(s), want %d:\n%s", len(gots), len(c.Expect), strings.TrimSuffix(listGots(gots), "\n")))
		return problems, nil
	}
	for i, e := range c.Expect {
		if p := check(e, gots[i].out, gots[i].err); p != "" {
			problems = append(problems, fmt.Sprintf("expect[%d] (input[%d]): %s", i, gots[i].input, p))
		}
	}
	return problems, nil
}

// listGots lists a case's results, an input's error by its text: a
// failed input is that text to its author (a got printed with %+v showed
// its unexported err as a pointer).
func listGots(gots []got) string {
	var b strings.Builder
	for i, g := range gots {
		if g.err != nil {
			fmt.Fprintf(&b, "  %d: input[%d] failed: %v\n", i, g.input, g.err)
			continue
		}
		fmt.Fprintf(&b, "  %d: input[%d]: %s\n", i, g.input, g.out)
	}
	return b.String()
}

func orRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
