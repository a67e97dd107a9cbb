package tabletest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/table"
)

// version1 is a database as schema version 1 left it: the registry, a table
// "pages" keyed by (key, stream, seq) with its lookup index, three versions
// (one a tombstone) and a table "empty". {text} is the engine's bytewise
// text type, {10} and {20} are at(10) and at(20) in unix microseconds.
var version1 = []string{
	`CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_us BIGINT NOT NULL)`,
	`INSERT INTO schema_migrations (version, applied_us) VALUES (1, 0)`,
	`CREATE TABLE sluice_tables (name TEXT PRIMARY KEY, created_us BIGINT NOT NULL)`,
	`INSERT INTO sluice_tables (name, created_us) VALUES ('pages', 0), ('empty', 0)`,
	`CREATE TABLE t_pages (key {text} NOT NULL, valid_from BIGINT NOT NULL, seq BIGINT NOT NULL,
		stream {text} NOT NULL, deleted BOOLEAN NOT NULL, value TEXT, PRIMARY KEY (key, stream, seq))`,
	`CREATE INDEX x_pages ON t_pages (key, valid_from, seq, stream)`,
	`INSERT INTO t_pages (key, valid_from, seq, stream, deleted, value) VALUES
		('a', {10}, 1, 's', false, '"one"'),
		('a', {20}, 2, 's', false, '"two"'),
		('b', {10}, 3, 's', true, NULL)`,
	`CREATE TABLE t_empty (key {text} NOT NULL, valid_from BIGINT NOT NULL, seq BIGINT NOT NULL,
		stream {text} NOT NULL, deleted BOOLEAN NOT NULL, value TEXT, PRIMARY KEY (key, stream, seq))`,
	`CREATE INDEX x_empty ON t_empty (key, valid_from, seq, stream)`,
}

// Upgrade checks that a database at schema version 1 is migrated when a
// store opens it: the versions stay, and writes stay idempotent. db is the
// empty database that open opens; text is the engine's bytewise text type.
func Upgrade(t *testing.T, db *sql.DB, text string, open func(t *testing.T) table.Store) {
	ctx := context.Background()
	for _, s := range version1 {
		s = strings.NewReplacer("{text}", text, "{10}", fmt.Sprint(at(10).UnixMicro()), "{20}", fmt.Sprint(at(20).UnixMicro())).Replace(s)
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	one, two, three := w("a", 10, 1, "one"), w("a", 20, 2, "two"), w("a", 30, 4, "three")
	for i := range 2 { // the second open finds the schema migrated
		s := open(t)
		e := &env{t: t, s: s, table: "pages", ctx: ctx}
		if i == 0 {
			e.history("a", at(0), at(100), version(one, 20), version(two, -1))
			e.put(three)
		}
		e.history("a", at(0), at(100), version(one, 20), version(two, 30), version(three, -1))
		e.put(w("a", 40, 2, "other")) // the (key, stream, seq) of two: nothing changes
		v := version(two, 30)
		e.get("a", at(25), &v)
		v = version(three, -1)
		e.get("a", at(45), &v)
		e.get("b", at(15), nil)
		e.history("b", at(0), at(100), version(tomb("b", 10, 3), -1))
		e = &env{t: t, s: s, table: "empty", ctx: ctx}
		if i == 0 {
			e.get("a", at(15), nil)
			e.put(one)
		}
		v = version(one, -1)
		e.get("a", at(15), &v)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	var v int
	if err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil || v < 2 {
		t.Errorf("schema version %d (%v); want at least 2", v, err)
	}
}
