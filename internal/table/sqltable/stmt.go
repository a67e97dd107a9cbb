package sqltable

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// statement names one of the statements a table is queried or written with.
type statement int

const (
	stmtGet statement = iota
	stmtHistory
	stmtScan
	stmtInsert // Dialect.InsertRows rows
	// stmtGetMany+i is the statement of GetMany for getManySizes[i] keys.
	stmtGetMany
)

func (st statement) text(d Dialect) string {
	switch st {
	case stmtGet:
		return getSQL
	case stmtHistory:
		return historySQL
	case stmtScan:
		return scanSQL
	case stmtInsert:
		return insertSQL(d.insertRows())
	default:
		return getManySQL(getManySizes[st-stmtGetMany])
	}
}

// stmts keeps the statements of each table prepared. A *sql.Stmt prepares
// itself once on each connection of its pool that runs it, so a lookup is
// not parsed and planned again on every call.
type stmts struct {
	mu sync.RWMutex
	m  map[stmtKey]*sql.Stmt
}

type stmtKey struct {
	table string
	st    statement
}

// stmt returns the prepared statement st of table name, on the write pool
// for stmtInsert and on the read pool otherwise.
func (s *Store) stmt(ctx context.Context, name string, st statement) (*sql.Stmt, error) {
	k := stmtKey{name, st}
	s.stmts.mu.RLock()
	p := s.stmts.m[k]
	s.stmts.mu.RUnlock()
	if p != nil {
		return p, nil
	}
	db := s.read
	if st == stmtInsert {
		db = s.write
	}
	p, err := db.PrepareContext(ctx, s.q(name, st.text(s.d)))
	if err != nil {
		return nil, err
	}
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	if q := s.stmts.m[k]; q != nil { // prepared meanwhile by another call
		p.Close()
		return q, nil
	}
	if s.stmts.m == nil {
		s.stmts.m = map[stmtKey]*sql.Stmt{}
	}
	s.stmts.m[k] = p
	return p, nil
}

// forget closes the statements of table name (all tables if name is ""): a
// dropped table's statements are not kept.
func (s *Store) forget(name string) error {
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	var err error
	for k, p := range s.stmts.m {
		if name == "" || k.table == name {
			err = errors.Join(err, p.Close())
			delete(s.stmts.m, k)
		}
	}
	return err
}
