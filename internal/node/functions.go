package node

import (
	"log/slog"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/httpfn"
	"github.com/sluice-dev/sluice/internal/function/identity"
	"github.com/sluice-dev/sluice/internal/function/invocation"
	"github.com/sluice-dev/sluice/internal/function/jq"
	"github.com/sluice-dev/sluice/internal/function/mediawiki"
	"github.com/sluice-dev/sluice/internal/function/process"
	"github.com/sluice-dev/sluice/internal/source"
	"github.com/sluice-dev/sluice/internal/source/eventsource"
	"github.com/sluice-dev/sluice/internal/source/file"
)

// Functions is the registry of every built-in function kind.
func Functions() *function.Registry {
	return function.NewRegistry(identity.Spec, jq.Spec, mediawiki.Spec)
}

// SourceKinds is the registry of every kind of source.
func SourceKinds() *source.Registry { return source.NewRegistry(eventsource.Kind, file.Kind) }

// functionUses are the built-in kinds the config uses (in pipelines, and
// named under functions: with a preset config): the operator's values of
// their network targets, for invoke requests of the kind itself.
func functionUses(cfg *config.Config) map[string]function.Use {
	uses := map[string]function.Use{}
	for name, pl := range cfg.Pipelines {
		uses["pipelines."+name] = function.Use{Function: pl.Function.Name, Config: pl.Function.Config}
	}
	for name, f := range cfg.Functions {
		if f.Kind != "" {
			uses["functions."+name] = function.Use{Function: f.Kind, Config: f.Config}
		}
	}
	return uses
}

// FunctionKinds are the kinds of named functions that run the operator's
// own code (docs/FUNCTIONS.md).
func FunctionKinds() []invocation.Kind { return []invocation.Kind{process.Kind, httpfn.Kind} }

// DeclareFunctions builds the config's named functions (functions:) into
// reg, starting their processes; on an error the ones built are closed.
// The registry owns them: reg.Close stops them.
func DeclareFunctions(cfg *config.Config, reg *function.Registry, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, name := range sortedKeys(cfg.Functions) {
		f := cfg.Functions[name]
		d := invocation.Declaration{Name: name, Kinds: f.Kinds, Kind: f.Kind, Config: f.Config,
			MaxBatch: f.MaxBatch, Payload: f.Payload, Doc: f.Doc}
		if err := invocation.Declare(reg, FunctionKinds(), d, invocation.Env{Dir: cfg.Dir(), Log: log}); err != nil {
			_ = reg.Close()
			return err
		}
	}
	return nil
}
