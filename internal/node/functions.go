package node

import (
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/identity"
	"github.com/sluice-dev/sluice/internal/function/jq"
	"github.com/sluice-dev/sluice/internal/function/mediawiki"
)

// Functions is the registry of every built-in function kind.
func Functions() *function.Registry {
	return function.NewRegistry(identity.Spec, jq.Spec, mediawiki.Spec)
}
