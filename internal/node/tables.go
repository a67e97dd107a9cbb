package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/table"
	"github.com/sluice-dev/sluice/internal/table/postgres"
	"github.com/sluice-dev/sluice/internal/table/sqlite"
)

// openTables opens the table store: SQLite under the data directory
// unless table_store names PostgreSQL. Tables are created as they are
// defined (see runtime).
func openTables(ctx context.Context, cfg *config.Config) (table.Store, error) {
	var st table.Store
	var err error
	if cfg.TableStore != "" {
		st, err = postgres.Open(ctx, cfg.TableStore)
	} else {
		if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
			return nil, err
		}
		st, err = sqlite.Open(filepath.Join(cfg.Data, "tables.db"))
	}
	if err != nil {
		return nil, fmt.Errorf("table store: %w", err)
	}
	return st, nil
}
