package sqltable

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRebind(t *testing.T) {
	q := `SELECT a FROM t WHERE b = ? AND c > ? LIMIT ?`
	if got := SQLite.rebind(q); got != q {
		t.Errorf("SQLite.rebind = %q", got)
	}
	if got, want := PostgreSQL.rebind(q), `SELECT a FROM t WHERE b = $1 AND c > $2 LIMIT $3`; got != want {
		t.Errorf("PostgreSQL.rebind = %q; want %q", got, want)
	}
}
