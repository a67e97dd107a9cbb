package pipeline_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine/jetstream"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/pipeline/outputtest"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
	"github.com/sluice-dev/sluice/internal/table"
	"github.com/sluice-dev/sluice/internal/table/sqlite"
)

var conformanceSeq atomic.Int64

// conformanceName is a name no other subtest of this process uses.
func conformanceName(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano()%1e9, conformanceSeq.Add(1))
}

// TestStreamOutputConformance: a stream output on an embedded engine, its
// schema refusing an n that is not an integer.
func TestStreamOutputConformance(t *testing.T) {
	ctx := context.Background()
	e, err := jetstream.Open(ctx, jetstream.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	cat, err := catalog.Open(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	svc := stream.New(e, cat, nil, nil)
	t.Cleanup(svc.Close)
	sch, err := schema.FromDocument("urn:conformance", []byte(`{"type":"object","required":["meta","k","n"],"properties":{"n":{"type":"integer"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	outputtest.Run(t, func(t *testing.T) outputtest.Subject {
		name, pl := conformanceName("out"), conformanceName("pl")
		if _, err := svc.Create(ctx, catalog.Stream{Name: name, ID: "/meta/id", Time: "/meta/dt"}, sch); err != nil {
			t.Fatal(err)
		}
		return outputtest.Subject{
			Output:  pipeline.NewStreamOutput(svc, pl, name),
			Refused: json.RawMessage(`{"meta":{"id":"bad","dt":"2026-03-01T12:00:00Z"},"k":"kbad","n":"two"}`),
			Stored: func(ctx context.Context) ([]outputtest.Stored, error) {
				c, err := svc.Open(ctx, name, stream.Range{From: event.Position{Kind: event.Earliest}})
				if err != nil {
					return nil, err
				}
				defer c.Close()
				var got []outputtest.Stored
				for {
					e, err := c.Next(ctx)
					if errors.Is(err, io.EOF) {
						return got, nil
					}
					if err != nil {
						return nil, err
					}
					if e.Origin != pl {
						return nil, fmt.Errorf("event %d from %q, not the pipeline", e.Seq, e.Origin)
					}
					var doc struct{ K string }
					if err := json.Unmarshal(e.Data, &doc); err != nil {
						return nil, err
					}
					got = append(got, outputtest.Stored{Position: e.Position, Key: doc.K})
				}
			},
		}
	})
}

// TestTableOutputConformance: a table output keyed by /k on SQLite, whose
// time must be an RFC 3339 time.
func TestTableOutputConformance(t *testing.T) {
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "tables.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	outputtest.Run(t, func(t *testing.T) outputtest.Subject {
		name := conformanceName("t")
		if err := store.Create(t.Context(), name); err != nil {
			t.Fatal(err)
		}
		o, err := pipeline.NewTableOutput(store, name, "in", "event.k", "/meta/dt", "")
		if err != nil {
			t.Fatal(err)
		}
		return outputtest.Subject{
			Output:  o,
			Refused: json.RawMessage(`{"meta":{"id":"bad","dt":"yesterday"},"k":"kbad","n":2}`),
			Atomic:  true,
			Stored:  func(ctx context.Context) ([]outputtest.Stored, error) { return tableVersions(ctx, store, name) },
		}
	})
}

// tableVersions is every version of every key, by source sequence.
func tableVersions(ctx context.Context, store table.Store, name string) ([]outputtest.Stored, error) {
	var got []outputtest.Stored
	cursor := ""
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	for {
		vs, next, err := store.Scan(ctx, name, far, "", 1000, cursor)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			hs, err := store.History(ctx, name, v.Key, time.Time{}, far)
			if err != nil {
				return nil, err
			}
			for _, h := range hs {
				got = append(got, outputtest.Stored{Position: fmt.Sprintf("%020d:%06d", h.Seq, 0), Key: h.Key})
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	slices.SortStableFunc(got, func(a, b outputtest.Stored) int { return strings.Compare(a.Position, b.Position) })
	return got, nil
}

// TestSQLOutputConformance: SQL outputs in append mode (which refuses an
// output that is not JSON) and upsert mode keyed by k (which refuses an
// output without k), on SQLite and, when reachable, PostgreSQL.
func TestSQLOutputConformance(t *testing.T) {
	targets := map[string]func(t *testing.T) sqlTarget{"sqlite": sqliteTarget, "postgres": postgresTarget}
	for _, db := range []string{"sqlite", "postgres"} {
		for _, mode := range []string{pipeline.SQLAppend, pipeline.SQLUpsert} {
			t.Run(db+"/"+mode, func(t *testing.T) {
				target := targets[db](t)
				outputtest.Run(t, func(t *testing.T) outputtest.Subject {
					return sqlSubject(t, target, mode)
				})
			})
		}
	}
}

func sqlSubject(t *testing.T, target sqlTarget, mode string) outputtest.Subject {
	name := conformanceName("sluice_conf")
	cfg := pipeline.SQLOutputConfig{URL: target.url, Table: name, Mode: mode, Columns: map[string]string{"k": "/k", "n": "/n"}}
	refused := json.RawMessage(`{"meta":`)
	if mode == pipeline.SQLUpsert {
		cfg.Key = []string{"k"}
		refused = json.RawMessage(`{"meta":{"id":"bad","dt":"2026-03-01T12:00:00Z"},"n":2}`)
	}
	o, err := pipeline.NewSQLOutput(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		o.Close()
		if _, err := target.db.Exec(`DROP TABLE IF EXISTS "` + name + `"`); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	return outputtest.Subject{
		Output:  o,
		Refused: refused,
		Atomic:  true,
		Stored: func(ctx context.Context) ([]outputtest.Stored, error) {
			return sqlStored(ctx, target.db, name)
		},
	}
}

func sqlStored(ctx context.Context, db *sql.DB, name string) ([]outputtest.Stored, error) {
	rows, err := db.QueryContext(ctx, `SELECT sluice_source, k FROM "`+name+`" ORDER BY sluice_source`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var got []outputtest.Stored
	for rows.Next() {
		var s outputtest.Stored
		if err := rows.Scan(&s.Position, &s.Key); err != nil {
			return nil, err
		}
		got = append(got, s)
	}
	return got, rows.Err()
}
