package node

import (
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/identity"
	"github.com/sluice-dev/sluice/internal/function/jq"
	"github.com/sluice-dev/sluice/internal/function/mediawiki"
)

// Functions is the registry of every built-in function kind.
func Functions() *function.Registry {
	return function.NewRegistry(identity.Spec, jq.Spec, mediawiki.Spec)
}

// functionUses are the functions the configured pipelines call: the
// operator's values of their network targets, for invoke requests.
func functionUses(cfg *config.Config) map[string]function.Use {
	uses := map[string]function.Use{}
	for name, pl := range cfg.Pipelines {
		uses["pipelines."+name] = function.Use{Function: pl.Function.Name, Config: pl.Function.Config}
	}
	return uses
}
