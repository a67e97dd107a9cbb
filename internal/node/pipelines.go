package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/files"
	"github.com/sluice-dev/sluice/internal/filter"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/stream"
	"github.com/sluice-dev/sluice/internal/table"
)

// pipelineSpecs builds the configured pipelines; a function's config is
// checked here, so a bad one stops the start with its path.
func pipelineSpecs(cfg *config.Config, reg *function.Registry, svc *stream.Service, tables table.Store) ([]pipeline.Spec, error) {
	var out []pipeline.Spec
	var opened []io.Closer // outputs holding resources (e.g. a database)
	fail := func(err error) ([]pipeline.Spec, error) {
		for _, c := range opened {
			_ = c.Close()
		}
		return nil, err
	}
	for name, pl := range cfg.Pipelines {
		p := "pipelines." + name
		spec := pipeline.Spec{Name: name, From: pl.From, Start: event.Position{Kind: event.Latest},
			FunctionName: pl.Function.Name, FunctionConfig: pl.Function.Config, MaxInFlight: pl.MaxInFlight}
		if pl.Start != "" {
			pos, err := event.ParsePosition(pl.Start)
			if err != nil {
				return fail(fmt.Errorf("%s.start: %w", p, err))
			}
			spec.Start = pos
		}
		if pl.Where != "" {
			f, err := filter.Compile(pl.Where)
			if err != nil {
				return fail(fmt.Errorf("%s.where: %w", p, err))
			}
			spec.Where = f
		}
		fn, err := reg.New(pl.Function.Name, pl.Function.Config)
		if err != nil {
			return fail(fmt.Errorf("%s.function: %w", p, err))
		}
		spec.Function = fn
		for i, o := range pl.To {
			if o.Files != nil {
				continue // a sink of its own on the output stream: see fileSinks
			}
			if o.Stream != "" {
				spec.To = append(spec.To, pipeline.NewStreamOutput(svc, name, o.Stream))
				continue
			}
			if o.SQL != nil {
				out, err := pipeline.NewSQLOutput(context.Background(), pipeline.SQLOutputConfig{URL: o.SQL.URL, Dir: cfg.Data,
					Table: o.SQL.Table, Mode: o.SQL.Mode, Key: o.SQL.Key, Columns: o.SQL.Columns})
				if err != nil {
					return fail(fmt.Errorf("%s.to[%d].sql: %w", p, i, err))
				}
				opened = append(opened, out)
				spec.To = append(spec.To, out)
				continue
			}
			tb := cfg.Tables[o.Table]
			out, err := pipeline.NewTableOutput(tables, o.Table, pl.From, tb.Key, tb.Time, tb.DeleteWhen)
			if err != nil {
				return fail(fmt.Errorf("%s.to[%d]: tables.%s.%w", p, i, o.Table, err))
			}
			spec.To = append(spec.To, out)
		}
		out = append(out, spec)
	}
	return out, nil
}

// fileSinks builds the files outputs: each is a durable consumer of its
// own on the pipeline's output stream, so the pipeline never waits for an
// object to fill.
func fileSinks(ctx context.Context, cfg *config.Config, svc *stream.Service, log *slog.Logger, reg prometheus.Registerer) (*files.Group, error) {
	g := files.NewGroup(reg)
	for _, name := range sortedKeys(cfg.Pipelines) {
		pl := cfg.Pipelines[name]
		for i, o := range pl.To {
			if o.Files == nil {
				continue
			}
			s, err := files.New(ctx, svc, o.Files.Config(), files.Options{Pipeline: name, Stream: pl.FilesStream(o.Files), Dir: cfg.Data, Log: log})
			if err != nil {
				g.Stop()
				return nil, fmt.Errorf("pipelines.%s.to[%d].files: %w", name, i, err)
			}
			g.Add(s)
		}
	}
	return g, nil
}
