package pipeline

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/sluice-dev/sluice/internal/schema"
)

// SQL output modes.
const (
	SQLAppend = "append"
	SQLUpsert = "upsert"
)

// SQLOutputConfig configures a SQLOutput.
type SQLOutputConfig struct {
	// URL is postgres://... (or postgresql://...) or sqlite:PATH; a
	// relative SQLite path is relative to Dir.
	URL string `yaml:"url,omitempty"`
	Dir string `yaml:"-"` // the node's data directory
	// Table is the SQL table, created if missing: [a-z_][a-z0-9_]{0,62}.
	Table string `yaml:"table,omitempty"`
	// Mode is SQLAppend (default) or SQLUpsert.
	Mode string `yaml:"mode,omitempty"`
	// Key lists the columns of the unique key (upsert).
	Key []string `yaml:"key,omitempty"`
	// Columns maps a column name to a JSON pointer into the output event.
	Columns map[string]string `yaml:"columns,omitempty"`
}

// SQLOutput writes outputs as rows of a PostgreSQL or SQLite table, one
// transaction per batch, with multi-row inserts. Every mapped column is
// TEXT (strings as they are, numbers and booleans in their JSON form,
// objects and arrays as JSON text, a missing value or null as NULL); two
// bookkeeping columns follow: sluice_source (the output's position, which
// sorts) and sluice_id (its id).
//
// Append mode keeps one row per output: sluice_source is unique, so a
// redelivered output inserts nothing. Upsert mode keeps one row per key
// and replaces it only with an output from the same or a later input, so
// an older redelivery never overwrites a newer row.
type SQLOutput struct {
	db      *sql.DB
	dollar  bool // $1 placeholders (PostgreSQL) instead of ?
	table   string
	upsert  bool
	columns []string // sorted
	ptrs    []string // the pointer of each column
	key     []int    // indexes of the key columns in columns
}

var sqlIdentRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// sqlChunk is how many rows one INSERT statement carries.
const sqlChunk = 100

// NewSQLOutput opens the database and creates the table if it is missing.
func NewSQLOutput(ctx context.Context, cfg SQLOutputConfig) (*SQLOutput, error) {
	o, err := newSQLOutput(cfg)
	if err != nil {
		return nil, err
	}
	db, where, err := openSQL(ctx, cfg.URL, cfg.Dir)
	if err != nil {
		return nil, err
	}
	o.db, o.dollar = db, strings.HasPrefix(where, "postgres")
	if _, err := db.ExecContext(ctx, o.createTable()); err != nil {
		db.Close()
		return nil, fmt.Errorf("sql output %s: create table %s: %w", where, cfg.Table, err)
	}
	return o, nil
}

// SQLCheck is the check of a SQL output, with no database.
func SQLCheck(cfg SQLOutputConfig) (Check, error) {
	o, err := newSQLOutput(cfg)
	if err != nil {
		return Check{}, err
	}
	return o.Check(context.Background())
}

// newSQLOutput reads cfg, opening nothing.
func newSQLOutput(cfg SQLOutputConfig) (*SQLOutput, error) {
	if !sqlIdentRE.MatchString(cfg.Table) {
		return nil, fmt.Errorf("sql output: table %q: want [a-z_][a-z0-9_]{0,62}", cfg.Table)
	}
	o := &SQLOutput{table: cfg.Table}
	switch cfg.Mode {
	case "", SQLAppend:
	case SQLUpsert:
		o.upsert = true
		if len(cfg.Key) == 0 {
			return nil, errors.New("sql output: upsert needs key columns")
		}
	default:
		return nil, fmt.Errorf("sql output: mode %q: want append or upsert", cfg.Mode)
	}
	if len(cfg.Columns) == 0 {
		return nil, errors.New("sql output: no columns")
	}
	for name := range cfg.Columns {
		if !sqlIdentRE.MatchString(name) || strings.HasPrefix(name, "sluice_") {
			return nil, fmt.Errorf("sql output: column %q: want [a-z_][a-z0-9_]{0,62}, not starting with sluice_", name)
		}
		o.columns = append(o.columns, name)
	}
	slices.Sort(o.columns)
	for _, c := range o.columns {
		ptr := cfg.Columns[c]
		if !schema.ValidPointer(ptr) {
			return nil, fmt.Errorf("sql output: column %s: %q is not a JSON pointer", c, ptr)
		}
		o.ptrs = append(o.ptrs, ptr)
	}
	if o.upsert {
		for _, k := range cfg.Key {
			i, found := slices.BinarySearch(o.columns, k)
			if !found {
				return nil, fmt.Errorf("sql output: key %q is not one of the columns", k)
			}
			o.key = append(o.key, i)
		}
	}
	return o, nil
}

// openSQL opens a database; where names it in errors without a password.
func openSQL(ctx context.Context, url, dir string) (db *sql.DB, where string, err error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		cc, err := pgx.ParseConfig(url) // its errors do not repeat a password
		if err != nil {
			return nil, "", fmt.Errorf("sql output: %w", err)
		}
		where = fmt.Sprintf("postgres %s@%s:%d/%s", cc.User, cc.Host, cc.Port, cc.Database)
		db = stdlib.OpenDB(*cc)
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if path == "" {
			return nil, "", errors.New("sql output: sqlite: needs a file path")
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		where = "sqlite " + path
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, "", fmt.Errorf("sql output %s: %w", where, err)
		}
		db, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
		if err != nil {
			return nil, "", fmt.Errorf("sql output %s: %w", where, err)
		}
		db.SetMaxOpenConns(1) // one writer
	default:
		return nil, "", errors.New("sql output: url: want postgres://... or sqlite:PATH")
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, "", fmt.Errorf("sql output %s: %w", where, err)
	}
	return db, where, nil
}

func quoteIdent(s string) string { return `"` + s + `"` } // s is a validated identifier

func (o *SQLOutput) createTable() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (", quoteIdent(o.table))
	for _, c := range o.columns {
		fmt.Fprintf(&b, "%s TEXT, ", quoteIdent(c))
	}
	source := "TEXT"
	if o.dollar {
		source = `TEXT COLLATE "C"` // positions compare bytewise
	}
	fmt.Fprintf(&b, "sluice_source %s NOT NULL, sluice_id TEXT NOT NULL, ", source)
	if o.upsert {
		var ks []string
		for _, i := range o.key {
			ks = append(ks, quoteIdent(o.columns[i]))
		}
		fmt.Fprintf(&b, "PRIMARY KEY (%s))", strings.Join(ks, ", "))
	} else {
		b.WriteString("UNIQUE (sluice_source))")
	}
	return b.String()
}

// insert is the statement for n rows.
func (o *SQLOutput) insert(n int) string {
	var b strings.Builder
	cols := make([]string, 0, len(o.columns)+2)
	for _, c := range o.columns {
		cols = append(cols, quoteIdent(c))
	}
	cols = append(cols, "sluice_source", "sluice_id")
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", quoteIdent(o.table), strings.Join(cols, ", "))
	arg := 0
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			arg++
			if o.dollar {
				b.WriteString("$" + strconv.Itoa(arg))
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	if !o.upsert {
		b.WriteString(" ON CONFLICT (sluice_source) DO NOTHING")
		return b.String()
	}
	var ks, sets []string
	for i, c := range o.columns {
		if slices.Contains(o.key, i) {
			ks = append(ks, quoteIdent(c))
		} else {
			sets = append(sets, fmt.Sprintf("%s = excluded.%[1]s", quoteIdent(c)))
		}
	}
	sets = append(sets, "sluice_source = excluded.sluice_source", "sluice_id = excluded.sluice_id")
	fmt.Fprintf(&b, " ON CONFLICT (%s) DO UPDATE SET %s WHERE excluded.sluice_source >= %s.sluice_source",
		strings.Join(ks, ", "), strings.Join(sets, ", "), quoteIdent(o.table))
	return b.String()
}

func (o *SQLOutput) Name() string { return "sql:" + o.table }

// Close closes the database.
func (o *SQLOutput) Close() error { return o.db.Close() }

// row is one output's values: the columns, then sluice_source and sluice_id.
type row []any

func (o *SQLOutput) Write(ctx context.Context, outs []Out) (map[int][]schema.Violation, error) {
	var invalid map[int][]schema.Violation
	var rows []row
	index := map[string]int{} // de-duplication key -> index in rows
	for i, out := range outs {
		vals, vs := o.values(out.Data)
		if vs != nil {
			if invalid == nil {
				invalid = map[int][]schema.Violation{}
			}
			invalid[i] = vs
			continue
		}
		r := append(row(vals), out.Position, out.ID)
		dedup := out.Position
		if o.upsert {
			var parts []string
			for _, k := range o.key {
				parts = append(parts, strconv.Quote(r[k].(string))) // values checked it has one
			}
			dedup = strings.Join(parts, ",")
		}
		// One statement may not touch a row twice: keep the latest output.
		if j, dup := index[dedup]; dup {
			if strings.Compare(out.Position, rows[j][len(o.columns)].(string)) >= 0 {
				rows[j] = r
			}
			continue
		}
		index[dedup] = len(rows)
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return invalid, nil
	}
	if err := o.put(ctx, rows); err != nil {
		return nil, fmt.Errorf("output %s: %w", o.Name(), err)
	}
	return invalid, nil
}

// values reads an output's column values; vs is why the table refuses it:
// not JSON, or (upsert) a key column without a value.
func (o *SQLOutput) values(data json.RawMessage) (vals []any, vs []schema.Violation) {
	doc, err := schema.Decode(data)
	if err != nil {
		return nil, []schema.Violation{{Keyword: "json", Message: err.Error()}}
	}
	vals = make([]any, 0, len(o.columns)+2)
	for _, ptr := range o.ptrs {
		v, err := sqlValue(doc, ptr)
		if err != nil {
			vs = append(vs, schema.Violation{Pointer: ptr, Keyword: "sluice.sql", Message: err.Error()})
		}
		vals = append(vals, v)
	}
	if vs != nil {
		return nil, vs
	}
	for _, k := range o.key {
		if _, ok := vals[k].(string); !ok {
			vs = append(vs, schema.Violation{Pointer: o.ptrs[k], Keyword: "sluice.key",
				Message: fmt.Sprintf("the key column %s of sql output %s has no value", o.columns[k], o.table)})
		}
	}
	return vals, vs
}

// Check is what the table refuses: an output that is not JSON, or
// (upsert) one without a value for a key column.
func (o *SQLOutput) Check(context.Context) (Check, error) {
	return Check{Output: o.Name(), Refuse: func(_ int, data json.RawMessage) []schema.Violation {
		_, vs := o.values(data)
		return vs
	}}, nil
}

// commitPatience bounds a commit: once sent, it is waited for even if the
// write's ctx ends meanwhile.
const commitPatience = 10 * time.Second

// put writes rows in one transaction. Its statements run under ctx; its
// commit does not: a commit cut short by ctx may have been carried out by
// the database all the same (the conformance suite saw PostgreSQL store a
// batch whose commit answered "timeout"), and a write must say whether it
// stored its batch. So ctx is checked before the commit, and the commit's
// answer is awaited, up to commitPatience.
func (o *SQLOutput) put(ctx context.Context, rows []row) error {
	txCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	tx, err := o.db.BeginTx(txCtx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var stmt string
	stmtRows := 0
	for len(rows) > 0 {
		n := min(len(rows), sqlChunk)
		if n != stmtRows {
			stmt, stmtRows = o.insert(n), n
		}
		args := make([]any, 0, n*(len(o.columns)+2))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	patience := time.AfterFunc(commitPatience, cancel)
	defer patience.Stop()
	return tx.Commit()
}

// sqlValue is the column value at ptr: nil when missing or null, a string
// otherwise (JSON text for objects and arrays).
func sqlValue(doc any, ptr string) (any, error) {
	v, ok := schema.Lookup(doc, ptr)
	if !ok || v == nil {
		return nil, nil
	}
	if s, ok := schema.Scalar(v); ok {
		return s, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}
