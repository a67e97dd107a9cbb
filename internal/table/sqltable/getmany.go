package sqltable

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/table"
)

// getManySQL looks up n keys at a time in one statement: args are the n
// keys (NULL for a place left empty), then at twice. For each key, the
// greatest valid_from not after at is one seek of the lookup index, and the
// versions at that valid_from a second one; of those (several only if
// versions of the key tie on valid_from) the caller keeps the greatest
// (seq, stream). The keys are a VALUES list, which both engines plan as the
// driving side of the join; a key that matches nothing gives no row.
func getManySQL(n int) string {
	var b strings.Builder
	b.WriteString(`WITH k(key) AS (VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?)`)
	}
	b.WriteString(`)
	SELECT v.key, v.valid_from, v.seq, v.stream, v.deleted, v.value,
		(SELECT MIN(n.valid_from) FROM {t} n WHERE n.key = v.key AND n.valid_from > ?)
	FROM k JOIN {t} v ON v.key = k.key
		AND v.valid_from = (SELECT MAX(m.valid_from) FROM {t} m WHERE m.key = k.key AND m.valid_from <= ?)`)
	return b.String()
}

// getManySizes are the numbers of keys the statements of GetMany take, each
// prepared once per table when first used. A batch takes the smallest that
// holds its distinct keys, the places left empty given NULL, so it runs one
// statement with at most twice the places it needs; a batch of more than the
// largest runs one statement per that many keys.
var getManySizes = []int{8, 32, 128, 512, 1024}

// getManyStmt is the statement of GetMany for up to getManySizes[i] keys.
func getManyStmt(i int) statement { return stmtGetMany + statement(i) }

// GetMany implements table.Store.
func (s *Store) GetMany(ctx context.Context, name string, keys []string, at time.Time) ([]table.Version, error) {
	if err := table.ValidName(name); err != nil {
		return nil, err
	}
	for i, key := range keys {
		if err := table.ValidKey(key); err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
	}
	out := make([]table.Version, len(keys))
	// where lists the places of each distinct key in keys; distinct is in
	// the order first given.
	where := make(map[string][]int, len(keys))
	distinct := make([]string, 0, len(keys))
	for i, key := range keys {
		out[i].Key = key
		if where[key] == nil {
			distinct = append(distinct, key)
		}
		where[key] = append(where[key], i)
	}
	op := fmt.Sprintf("get %d keys at %s from", len(keys), at.Format(time.RFC3339Nano))
	largest := getManySizes[len(getManySizes)-1]
	for len(distinct) > 0 {
		chunk := distinct[:min(len(distinct), largest)]
		distinct = distinct[len(chunk):]
		if err := s.getMany(ctx, name, chunk, at, func(v table.Version) {
			for _, i := range where[v.Key] {
				// Of versions tied on valid_from, the greatest (seq, stream).
				if o := out[i]; !o.Found() || v.Seq > o.Seq || (v.Seq == o.Seq && v.Stream > o.Stream) {
					out[i] = v
				}
			}
		}); err != nil {
			return nil, s.fail(ctx, op, name, err)
		}
	}
	for i, v := range out {
		if v.Deleted {
			out[i] = table.Version{Key: v.Key}
		}
	}
	return out, nil
}

// getMany runs one statement of GetMany for keys (at most the largest of
// getManySizes, none twice) and calls found for each row.
func (s *Store) getMany(ctx context.Context, name string, keys []string, at time.Time, found func(table.Version)) error {
	size := 0
	for size < len(getManySizes)-1 && getManySizes[size] < len(keys) {
		size++
	}
	stmt, err := s.stmt(ctx, name, getManyStmt(size))
	if err != nil {
		return err
	}
	us := at.UnixMicro()
	args := make([]any, getManySizes[size]+2) // the places past keys stay NULL
	for i, key := range keys {
		args[i] = key
	}
	args[len(args)-2], args[len(args)-1] = us, us
	// Unlike Get, the query watches ctx even on an engine in process: its
	// cost (a goroutine) is shared by the whole batch, which may take
	// milliseconds.
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v table.Version
		if err := scanVersion(rows, &v, &v.Key); err != nil {
			return err
		}
		found(v)
	}
	return rows.Err()
}
