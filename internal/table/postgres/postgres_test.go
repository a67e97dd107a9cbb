package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/table"
	"github.com/sluice-dev/sluice/internal/table/postgres"
	"github.com/sluice-dev/sluice/internal/table/sqltable"
	"github.com/sluice-dev/sluice/internal/table/tabletest"
	"github.com/sluice-dev/sluice/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// schema creates a schema of its own for the test, dropped at its end, and
// returns the URL of the test database with that search_path: tables,
// migrations and registry are then private to the test.
func schema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("SLUICE_TEST_POSTGRES")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		testenv.Skip(t, fmt.Sprintf("PostgreSQL not reachable at %s (%v): start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`", base, err))
	}
	defer conn.Close(context.Background())
	name := fmt.Sprintf("tabletest_%016x", rand.Uint64())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestStore(t *testing.T) {
	u := schema(t)
	tabletest.Run(t, func(t *testing.T) table.Store {
		s, err := postgres.Open(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestUpgrade opens a database of schema version 1.
func TestUpgrade(t *testing.T) {
	u := schema(t)
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tabletest.Upgrade(t, db, sqltable.PostgreSQL.Text, func(t *testing.T) table.Store {
		s, err := postgres.Open(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestOpenUnreachable(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://nobody:secret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if s := err.Error(); strings.Contains(s, "secret") {
		t.Errorf("error shows the password: %s", s)
	}
}
