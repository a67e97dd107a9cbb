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

// openTables opens the table store (SQLite under the data directory unless
// table_store names PostgreSQL) and creates the declared tables. Without
// declared tables and without table_store, no store is opened.
func openTables(ctx context.Context, cfg *config.Config) (table.Store, error) {
	if len(cfg.Tables) == 0 && cfg.TableStore == "" {
		return nil, nil
	}
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
	for _, name := range sortedKeys(cfg.Tables) {
		if err := st.Create(ctx, name); err != nil {
			st.Close()
			return nil, fmt.Errorf("tables.%s: %w", name, err)
		}
	}
	return st, nil
}
