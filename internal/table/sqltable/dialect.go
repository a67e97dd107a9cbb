// Package sqltable implements table.Store once, over database/sql, for every
// SQL engine: the statements are portable SQL (ON CONFLICT DO NOTHING, window
// functions), and a Dialect holds the few differences (placeholders, a
// bytewise text type, a lock for schema changes).
//
// A table <name> is the SQL table t_<name>:
//
//	key TEXT, valid_from BIGINT (unix µs), seq BIGINT, stream TEXT,
//	deleted BOOLEAN, value TEXT (JSON, NULL for a tombstone)
//	PRIMARY KEY p_<name> (stream, seq, key)       -- idempotent writes
//	INDEX x_<name> (key, valid_from, seq, stream) -- lookups at a time
//
// The primary key starts with the source position: a pipeline writes in the
// order of its input, so its versions are appended to that index (and, on
// SQLite, to the table) instead of landing at random places in it. Only the
// lookup index takes a random place per version, so a batch of versions of
// random keys changes about one page per version instead of two.
//
// The registry sluice_tables lists created tables, and schema_migrations the
// applied migrations.
package sqltable

import (
	"strconv"
	"strings"
)

// Dialect is what differs between SQL engines.
type Dialect struct {
	// Name names the engine in errors.
	Name string
	// Dollar selects $1, $2... placeholders instead of ?.
	Dollar bool
	// Text is a text column type compared bytewise, so that keys sort the
	// same way in every engine (and as Go strings do).
	Text string
	// Lock, if not empty, is run first in every transaction that changes
	// the schema, to serialize them across processes.
	Lock string
	// InsertRows is how many rows one INSERT statement carries (0: 100).
	InsertRows int
	// InProcess says the engine runs in this process and a point lookup
	// (Get) cannot wait on a network: it is not cancelled once started.
	InProcess bool
}

func (d Dialect) insertRows() int {
	if d.InsertRows <= 0 {
		return 100
	}
	return d.InsertRows
}

// SQLite is the dialect of SQLite. It inserts one row per statement: SQLite
// keeps a statement journal for a statement that writes several rows (a
// copy of every page it changes, in case a later row fails), which costs
// more than running a prepared statement once per row in the same process.
var SQLite = Dialect{Name: "sqlite", Text: "TEXT", InsertRows: 1, InProcess: true}

// PostgreSQL is the dialect of PostgreSQL: 100 rows per INSERT, one round
// trip.
var PostgreSQL = Dialect{
	Name:   "postgres",
	Dollar: true,
	Text:   `TEXT COLLATE "C"`,
	Lock:   "SELECT pg_advisory_xact_lock(7305853214770413413)",
}

// rebind rewrites the ? placeholders of q for d. The statements of this
// package have no ? inside literals.
func (d Dialect) rebind(q string) string {
	if !d.Dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			b.WriteByte(q[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
