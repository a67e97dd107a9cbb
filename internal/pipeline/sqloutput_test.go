package pipeline_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/testenv"
)

const sqlTestPG = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

const sqlProject = `
streams:
  in:
    schema: %[1]s/any.json
pipelines:
  tosql:
    from: in
    start: earliest
    function:
      name: jq
      config:
        program: '{page_id: (.n %% 5), wiki: .wiki, n: .n, tags: [.n, "x"], ok: (.n > 2)}'
    to:
      - sql:
          url: %[2]s
          table: %[3]s
          mode: %[4]s
%[5]s          columns:
            page_id: /page_id
            wiki: /wiki
            n: /n
            tags: /tags
            ok: /ok
            gone: /nope
`

// sqlTarget is a database to test against: its URL for the config and a
// connection to check the rows.
type sqlTarget struct {
	url string
	db  *sql.DB
}

func sqliteTarget(t *testing.T) sqlTarget {
	path := filepath.Join(t.TempDir(), "out.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return sqlTarget{url: "sqlite://" + path, db: db}
}

func postgresTarget(t *testing.T) sqlTarget {
	db, err := sql.Open("pgx", sqlTestPG)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		testenv.Skip(t, "no PostgreSQL at 127.0.0.1:5432 (database test, user postgres): "+err.Error())
	}
	t.Cleanup(func() { db.Close() })
	return sqlTarget{url: sqlTestPG, db: db}
}

func startSQL(t *testing.T, target sqlTarget, table, mode, key string) *node.Node {
	t.Helper()
	dir := t.TempDir()
	if err := writeFile(dir+"/any.json", `{"type":"object"}`); err != nil {
		t.Fatal(err)
	}
	if key != "" {
		key = "          key: " + key + "\n"
	}
	return startDoc(t, fmt.Sprintf(sqlProject, dir, target.url, table, mode, key), t.TempDir())
}

func produceSQL(t *testing.T, n *node.Node, from, to int) {
	t.Helper()
	var raws [][]byte
	for i := from; i < to; i++ {
		raws = append(raws, fmt.Appendf(nil, `{"meta":{"id":"e%d","dt":"2026-11-27T10:00:%02dZ"},"wiki":"w%d","n":%d}`, i, i%60, i%2, i))
	}
	if _, err := n.Streams.Produce(context.Background(), "in", raws); err != nil {
		t.Fatal(err)
	}
}

func waitSQL(t *testing.T, n *node.Node, position, processed uint64) {
	t.Helper()
	var s pipeline.Status
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		s, _ = n.Pipelines.Get("tosql")
		if s.Position >= position && s.LagEvents == 0 && s.Processed >= processed {
			if s.Failed != 0 {
				t.Fatalf("failed inputs: %+v", s)
			}
			return
		}
	}
	t.Fatalf("pipeline did not reach %d (%d processed): %+v", position, processed, s)
}

// sqlRows reads every row as text ("NULL" for NULL), ordered by sluice_source.
func sqlRows(t *testing.T, db *sql.DB, table string) [][]string {
	t.Helper()
	rows, err := db.Query(`SELECT page_id, wiki, n, tags, ok, gone, sluice_source, sluice_id FROM "` + table + `" ORDER BY sluice_source`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, 8)
		ptrs := make([]any, 8)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, 8)
		for i, v := range vals {
			row[i] = "NULL"
			if v.Valid {
				row[i] = v.String
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sqlTargets(t *testing.T, f func(t *testing.T, target sqlTarget, table string)) {
	table := fmt.Sprintf("sluice_test_%d", time.Now().UnixNano())
	t.Run("sqlite", func(t *testing.T) { f(t, sqliteTarget(t), table) })
	t.Run("postgres", func(t *testing.T) {
		target := postgresTarget(t)
		t.Cleanup(func() { target.db.Exec(`DROP TABLE IF EXISTS "` + table + `"`) })
		f(t, target, table)
	})
}

// TestSQLOutputAppend: one row per output; a reset to earliest adds none.
func TestSQLOutputAppend(t *testing.T) {
	sqlTargets(t, func(t *testing.T, target sqlTarget, table string) {
		n := startSQL(t, target, table, "append", "")
		defer stop(t, n)
		produceSQL(t, n, 0, 250) // more than a chunk of rows
		waitSQL(t, n, 250, 250)
		rows := sqlRows(t, target.db, table)
		if len(rows) != 250 {
			t.Fatalf("%d rows, want 250", len(rows))
		}
		want := []string{"2", "w1", "7", `[7,"x"]`, "true", "NULL", "00000000000000000008:000000"}
		if r := rows[7]; !reflect.DeepEqual(r[:7], want) || r[7] == "" {
			t.Fatalf("row 7: %q, want %q and an id", r, want)
		}
		if _, err := n.Pipelines.Reset(context.Background(), "tosql", event.Position{Kind: event.Earliest}); err != nil {
			t.Fatal(err)
		}
		waitSQL(t, n, 250, 500)
		if again := sqlRows(t, target.db, table); !reflect.DeepEqual(again, rows) {
			t.Fatalf("after reset: %d rows, changed: %v", len(again), len(again) == len(rows))
		}
	})
}

// TestSQLOutputUpsert: one row per key with the latest input's values; a
// reset to earliest leaves the rows as they are.
func TestSQLOutputUpsert(t *testing.T) {
	sqlTargets(t, func(t *testing.T, target sqlTarget, table string) {
		n := startSQL(t, target, table, "upsert", "[page_id, wiki]")
		defer stop(t, n)
		produceSQL(t, n, 0, 230)
		waitSQL(t, n, 230, 230)
		rows := sqlRows(t, target.db, table)
		// Keys: (n%5, w<n%2>) - 10 of them; the latest inputs are 220..229.
		if len(rows) != 10 {
			t.Fatalf("%d rows, want 10: %q", len(rows), rows)
		}
		for i, r := range rows {
			nv := 220 + i
			want := []string{fmt.Sprint(nv % 5), fmt.Sprintf("w%d", nv%2), fmt.Sprint(nv), fmt.Sprintf(`[%d,"x"]`, nv), "true", "NULL",
				fmt.Sprintf("%020d:000000", nv+1)}
			if !reflect.DeepEqual(r[:7], want) {
				t.Fatalf("row %d: %q, want %q", i, r, want)
			}
		}
		if _, err := n.Pipelines.Reset(context.Background(), "tosql", event.Position{Kind: event.Earliest}); err != nil {
			t.Fatal(err)
		}
		waitSQL(t, n, 230, 460)
		if again := sqlRows(t, target.db, table); !reflect.DeepEqual(again, rows) {
			t.Fatalf("after reset:\n%q\nwant\n%q", again, rows)
		}
		// A later input replaces its key's row.
		produceSQL(t, n, 230, 231)
		waitSQL(t, n, 231, 461)
		got := sqlRows(t, target.db, table)
		if len(got) != 10 || got[9][2] != "230" || got[9][0] != "0" || got[9][1] != "w0" {
			t.Fatalf("after a new input: %q", got)
		}
	})
}

// TestSQLOutputDirect: an older output never overwrites a newer row, a
// batch may hold one key twice, and an output without a key is refused.
func TestSQLOutputDirect(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "rel", "out.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	table := fmt.Sprintf("sluice_direct_%d", time.Now().UnixNano())
	// A relative SQLite path is under the data directory.
	t.Run("sqlite", func(t *testing.T) { testSQLDirect(t, sqlTarget{url: "sqlite:rel/out.db", db: db}, dir, table) })
	t.Run("postgres", func(t *testing.T) {
		target := postgresTarget(t)
		t.Cleanup(func() { target.db.Exec(`DROP TABLE IF EXISTS "` + table + `"`) })
		testSQLDirect(t, target, "", table)
	})
}

func testSQLDirect(t *testing.T, target sqlTarget, dir, table string) {
	ctx := context.Background()
	o, err := pipeline.NewSQLOutput(ctx, pipeline.SQLOutputConfig{URL: target.url, Dir: dir, Table: table,
		Mode: pipeline.SQLUpsert, Key: []string{"k"}, Columns: map[string]string{"k": "/k", "v": "/v"}})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Name() != "sql:"+table {
		t.Fatalf("name %q", o.Name())
	}
	out := func(seq int, data string) pipeline.Out {
		return pipeline.Out{Data: []byte(data), ID: fmt.Sprint("id", seq), Position: fmt.Sprintf("%020d:000000", seq)}
	}
	invalid, err := o.Write(ctx, []pipeline.Out{out(5, `{"k":"a","v":5}`), out(6, `{"k":"a","v":6}`), out(7, `{"v":7}`), out(8, `{"k":"b","v":{"x":[1]}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(invalid) != 1 || invalid[2] == nil || invalid[2][0].Keyword != "sluice.key" {
		t.Fatalf("invalid: %+v", invalid)
	}
	if _, err := o.Write(ctx, []pipeline.Out{out(3, `{"k":"a","v":3}`), out(4, `{"k":"b","v":4}`), out(10, `{"k":"c","v":null}`)}); err != nil {
		t.Fatal(err)
	}
	rs, err := target.db.Query(`SELECT k, COALESCE(v, 'NULL'), sluice_id FROM "` + table + `" ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var got []string
	for rs.Next() {
		var k, v, id string
		rs.Scan(&k, &v, &id)
		got = append(got, k+"="+v+"@"+id)
	}
	if strings.Join(got, " ") != `a=6@id6 b={"x":[1]}@id8 c=NULL@id10` {
		t.Fatalf("rows: %q", got)
	}
}
