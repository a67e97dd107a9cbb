package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/files"
	"github.com/sluice-dev/sluice/internal/filter"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/stream"
	"github.com/sluice-dev/sluice/internal/table"
)

// pipelineSpec builds one pipeline through the output kinds; tables are
// the definitions of the tables it writes. A function's config is checked
// here, so a bad one is refused with its path.
func pipelineSpec(name string, pl config.Pipeline, tables map[string]config.Table, reg *function.Registry, outputs *pipeline.Outputs, svc *stream.Service, store table.Store, dataDir string) (pipeline.Spec, error) {
	spec := pipeline.Spec{Name: name, From: pl.From, Start: event.Position{Kind: event.Latest},
		FunctionName: pl.Function.Name, FunctionConfig: pl.Function.Config, MaxInFlight: pl.MaxInFlight}
	if pl.Start != "" {
		pos, err := event.ParsePosition(pl.Start)
		if err != nil {
			return pipeline.Spec{}, fmt.Errorf("start: %w", err)
		}
		spec.Start = pos
	}
	if pl.Where != "" {
		f, err := filter.Compile(pl.Where)
		if err != nil {
			return pipeline.Spec{}, fmt.Errorf("where: %w", err)
		}
		spec.Where = f
	}
	fn, err := reg.New(pl.Function.Name, pl.Function.Config)
	if err != nil {
		return pipeline.Spec{}, fmt.Errorf("function: %w", err)
	}
	spec.Function = fn
	spec.To, err = outputs.Build(pl, pipeline.OutputEnv{Pipeline: name, From: pl.From, Streams: svc, Tables: store, Dir: dataDir,
		Table: func(t string) (pipeline.TableDefinition, bool) { tb, ok := tables[t]; return tb, ok }})
	if err != nil {
		closeSpec(spec)
		return pipeline.Spec{}, err
	}
	return spec, nil
}

// OutputKinds is the registry of every kind of output.
func OutputKinds() *pipeline.Outputs {
	return pipeline.NewOutputs(pipeline.StreamKind, pipeline.TableKind, pipeline.SQLKind, files.Kind)
}

// closeSpec closes what a spec that will not run holds: its function and
// its outputs that hold resources (a database).
func closeSpec(s pipeline.Spec) {
	if c, ok := s.Function.(io.Closer); ok {
		_ = c.Close()
	}
	for _, o := range s.To {
		if c, ok := o.(io.Closer); ok {
			_ = c.Close()
		}
	}
}

// fileSinksOf builds a pipeline's files outputs: each is a durable
// consumer of its own on the pipeline's output stream, so the pipeline
// never waits for an object to fill.
func fileSinksOf(ctx context.Context, name string, pl config.Pipeline, svc *stream.Service, dataDir string, log *slog.Logger) ([]*files.Sink, error) {
	var out []*files.Sink
	for i, o := range pl.To {
		kind, settings := o.Kind()
		if kind != files.Kind.Name {
			continue
		}
		f, err := files.Decode(settings)
		if err != nil {
			return nil, fmt.Errorf("to[%d].files: %w", i, err)
		}
		s, err := files.New(ctx, svc, f.Config(), files.Options{Pipeline: name, Stream: f.StreamOf(pl), Dir: dataDir, Log: log})
		if err != nil {
			for _, s := range out {
				_ = s.Close()
			}
			return nil, fmt.Errorf("to[%d].files: %w", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}
