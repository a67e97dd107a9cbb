package node

import (
	"context"
	"errors"
	"log/slog"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/project"
)

// applyAttempts bounds how often a start-up apply plans again after
// another node wrote the same definitions between its plan and its write.
const applyAttempts = 5

// applyConfig puts the config file's definitions into the catalog. Nodes
// of a cluster started at once with one config all plan the same
// creations; the catalog lets one win each (a create, or an update at a
// revision) and the others find the definition written meanwhile. Those
// plan again, and then find nothing, or only what differs, to change.
func applyConfig(ctx context.Context, p *project.Service, declared []catalog.Definition, by string, log *slog.Logger) (project.Plan, error) {
	for attempt := 1; ; attempt++ {
		plan, err := p.Apply(ctx, declared, project.ApplyOptions{By: by})
		if err == nil || attempt == applyAttempts || !raced(err) || ctx.Err() != nil {
			return plan, err
		}
		log.Info("another node wrote a definition of the config meanwhile; planning again", "attempt", attempt, "err", err)
	}
}

// raced: the catalog changed between a plan and its write.
func raced(err error) bool {
	return errors.Is(err, catalog.ErrExists) || errors.Is(err, catalog.ErrStale)
}
