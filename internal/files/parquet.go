package files

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/schema"
)

// Bookkeeping columns of a Parquet object; a stream schema may not declare
// top-level properties of these names.
const (
	ColSeq   = "sluice_seq"   // the event's sequence in the stream (INT64)
	ColID    = "sluice_id"    // the event's id
	ColTime  = "sluice_time"  // the event's time (TIMESTAMP, microseconds, UTC)
	ColExtra = "sluice_extra" // undeclared properties, or values not of their column's type, as a JSON object
)

type kind int

const (
	kindString kind = iota
	kindInt
	kindFloat
	kindBool
	kindJSON
)

// columns are a Parquet schema made from a stream's JSON Schema: one
// nullable column per top-level property (string, integer, number and
// boolean as such; anything else as JSON text) and the bookkeeping columns.
type columns struct {
	schema                  *parquet.Schema
	props                   map[string]kind
	index                   map[string]int
	seq, id, time, extra, n int
}

// columnsOf reads the top-level properties of a stream's schema.
func columnsOf(root any) (*columns, error) {
	c := &columns{props: map[string]kind{}, index: map[string]int{}}
	group := parquet.Group{
		ColSeq:   parquet.Int(64),
		ColID:    parquet.Optional(parquet.String()),
		ColTime:  parquet.Optional(parquet.Timestamp(parquet.Microsecond)),
		ColExtra: parquet.Optional(parquet.JSON()),
	}
	props, _ := deref(root, root)["properties"].(map[string]any)
	for name, p := range props {
		if _, reserved := group[name]; reserved {
			return nil, fmt.Errorf("the schema declares %q, a column of the parquet format's own", name)
		}
		k := kindOf(deref(root, p))
		c.props[name] = k
		group[name] = parquet.Optional(map[kind]parquet.Node{
			kindString: parquet.String(), kindInt: parquet.Int(64), kindFloat: parquet.Leaf(parquet.DoubleType),
			kindBool: parquet.Leaf(parquet.BooleanType), kindJSON: parquet.JSON(),
		}[k])
	}
	c.schema = parquet.NewSchema("event", group)
	for i, f := range c.schema.Fields() { // a Group's fields are sorted by name
		c.index[f.Name()] = i
	}
	c.seq, c.id, c.time, c.extra, c.n = c.index[ColSeq], c.index[ColID], c.index[ColTime], c.index[ColExtra], len(c.index)
	return c, nil
}

// deref follows local "$ref"s ("#/$defs/x") of a schema node, a few deep.
func deref(root, node any) map[string]any {
	m, _ := node.(map[string]any)
	for range 8 {
		ref, ok := m["$ref"].(string)
		if !ok || len(ref) == 0 || ref[0] != '#' {
			return m
		}
		target, found := schema.Lookup(root, ref[1:])
		if !found {
			return m
		}
		m, _ = target.(map[string]any)
	}
	return m
}

func kindOf(p map[string]any) kind {
	var types []string
	switch t := p["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok && s != "null" {
				types = append(types, s)
			}
		}
	}
	if len(types) != 1 {
		return kindJSON
	}
	switch types[0] {
	case "string":
		return kindString
	case "integer":
		return kindInt
	case "number":
		return kindFloat
	case "boolean":
		return kindBool
	}
	return kindJSON
}

// value converts a JSON value to a column's type; ok is false when it is
// not of that type (it then goes to sluice_extra).
func value(k kind, raw json.RawMessage) (v parquet.Value, null, ok bool) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return parquet.Value{}, true, true
	}
	switch k {
	case kindString:
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return v, false, false
		}
		return parquet.ByteArrayValue([]byte(s)), false, true
	case kindInt:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(string(raw), 64)
			if ferr != nil || f < -9e18 || f > 9e18 || f != float64(int64(f)) {
				return v, false, false
			}
			n = int64(f)
		}
		return parquet.Int64Value(n), false, true
	case kindFloat:
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || raw[0] == '"' {
			return v, false, false
		}
		return parquet.DoubleValue(f), false, true
	case kindBool:
		if b, err := strconv.ParseBool(string(raw)); err == nil && (raw[0] == 't' || raw[0] == 'f') {
			return parquet.BooleanValue(b), false, true
		}
		return v, false, false
	}
	return parquet.ByteArrayValue(raw), false, true
}

// row makes the Parquet row of an event, reusing buf.
func (c *columns) row(e event.Event, buf parquet.Row) parquet.Row {
	if cap(buf) < c.n {
		buf = make(parquet.Row, c.n)
	}
	row := buf[:c.n]
	for i := range row {
		row[i] = parquet.Value{}.Level(0, 0, i)
	}
	row[c.seq] = parquet.Int64Value(int64(e.Seq)).Level(0, 0, c.seq)
	if e.ID != "" {
		row[c.id] = parquet.ByteArrayValue([]byte(e.ID)).Level(0, 1, c.id)
	}
	if !e.Time.IsZero() {
		row[c.time] = parquet.Int64Value(e.Time.UnixMicro()).Level(0, 1, c.time)
	}
	var obj map[string]json.RawMessage
	extra := map[string]json.RawMessage{}
	if err := json.Unmarshal(e.Data, &obj); err != nil {
		extra[""] = e.Data // not an object: kept whole
	}
	for name, raw := range obj {
		k, declared := c.props[name]
		if !declared {
			extra[name] = raw
			continue
		}
		v, null, ok := value(k, raw)
		switch {
		case !ok:
			extra[name] = raw
		case !null:
			i := c.index[name]
			row[i] = v.Level(0, 1, i)
		}
	}
	if len(extra) > 0 {
		b, _ := json.Marshal(extra) // keys sorted: the same event gives the same bytes
		row[c.extra] = parquet.ByteArrayValue(b).Level(0, 1, c.extra)
	}
	return row
}

// rowGroupBytes bounds the event bytes a Parquet writer holds in memory
// before it writes them out as a row group.
const rowGroupBytes = 8 << 20

type parquetEncoder struct {
	cols     *columns
	w        *parquet.Writer
	buf      parquet.Row
	buffered int
}

func newParquet(w io.Writer, cols *columns) *parquetEncoder {
	return &parquetEncoder{cols: cols, w: parquet.NewWriter(w, cols.schema, parquet.Compression(&parquet.Snappy),
		parquet.CreatedBy("sluice", "", ""))}
}

func (p *parquetEncoder) add(e event.Event) error {
	p.buf = p.cols.row(e, p.buf)
	if _, err := p.w.WriteRows([]parquet.Row{p.buf}); err != nil {
		return err
	}
	if p.buffered += len(e.Data); p.buffered >= rowGroupBytes {
		p.buffered = 0
		return p.w.Flush()
	}
	return nil
}

func (p *parquetEncoder) finish() error { return p.w.Close() }
