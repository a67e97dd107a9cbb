package files

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/schema"
)

// TestFormats writes the same events as NDJSON, gzipped NDJSON and Parquet
// and reads each back: every format holds the events as they were.
func TestFormats(t *testing.T) {
	for _, format := range []string{NDJSON, NDJSONGzip, Parquet} {
		t.Run(format, func(t *testing.T) {
			svc := newService(t)
			var raws [][]byte
			for i := range 50 {
				raws = append(raws, ev(i, t0.Add(time.Duration(i)*time.Millisecond)))
			}
			produce(t, svc, "p", raws...)
			evs := stored(t, svc)
			dir := t.TempDir()
			s, _ := start(t, svc, Config{URL: "file://" + dir, Format: format, MaxAge: 100 * time.Millisecond})
			waitFor(t, "the object", func() bool { return s.Status().Position == 50 })
			names := objects(t, dir)
			if want := []string{Key("", 1, 50, format)}; !reflect.DeepEqual(names, want) {
				t.Fatalf("objects %v, want %v", names, want)
			}
			got := decode(t, names[0], readFile(t, filepath.Join(dir, names[0])))
			if len(got) != len(evs) {
				t.Fatalf("%d events, want %d", len(got), len(evs))
			}
			for i, e := range evs {
				var want map[string]any
				if err := json.Unmarshal(e.Data, &want); err != nil {
					t.Fatal(err)
				}
				g := got[i]
				if format == Parquet {
					if g[ColSeq] != int64(e.Seq) || g[ColID] != e.ID || g[ColTime] != e.Time.UnixMicro() {
						t.Fatalf("event %d: bookkeeping %v %v %v, want %d %s %v", i, g[ColSeq], g[ColID], g[ColTime], e.Seq, e.ID, e.Time)
					}
					g = fromColumns(t, g)
					dropNulls(want)
				}
				if !reflect.DeepEqual(g, want) {
					t.Fatalf("event %d:\n got %v\nwant %v", i, g, want)
				}
			}
			if st := s.Status(); st.Bytes != uint64(len(readFile(t, filepath.Join(dir, names[0])))) {
				t.Fatalf("status bytes %d", st.Bytes)
			}
		})
	}
}

// fromColumns turns a Parquet row back into the event's JSON document:
// JSON columns decoded, integers as JSON numbers, sluice_extra merged,
// nulls left out (Parquet does not tell a null from a missing value).
func fromColumns(t *testing.T, row map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range row {
		switch x := v.(type) {
		case nil:
		case int64:
			out[k] = float64(x)
		case string:
			if k == "meta" || k == "tags" || k == ColExtra {
				var doc any
				if err := json.Unmarshal([]byte(x), &doc); err != nil {
					t.Fatalf("column %s: %v", k, err)
				}
				out[k] = doc
			} else {
				out[k] = x
			}
		default:
			out[k] = x
		}
	}
	if extra, ok := out[ColExtra].(map[string]any); ok {
		for k, v := range extra {
			out[k] = v
		}
	}
	for _, c := range []string{ColSeq, ColID, ColTime, ColExtra} {
		delete(out, c)
	}
	return out
}

func dropNulls(m map[string]any) {
	for k, v := range m {
		if v == nil {
			delete(m, k)
		}
	}
}

// TestParquetColumns: each property's column type comes from the schema;
// a value not of its column's type, an undeclared property and a document
// that is not an object are kept whole in sluice_extra.
func TestParquetColumns(t *testing.T) {
	b, err := schema.FromDocument("urn:x", []byte(outSchema))
	if err != nil {
		t.Fatal(err)
	}
	sch, err := schema.Compile(b)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := columnsOf(sch.Root())
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, f := range cols.schema.Fields() {
		types[f.Name()] = f.Type().String()
	}
	want := map[string]string{"meta": "JSON", "n": "INT(64,true)", "name": "STRING", "score": "DOUBLE", "ok": "BOOLEAN",
		"tags": "JSON", "maybe": "INT(64,true)", "ref": "STRING", ColSeq: "INT(64,true)", ColID: "STRING",
		ColTime: "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)", ColExtra: "JSON"}
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("columns\n got %v\nwant %v", types, want)
	}
	var buf bytes.Buffer
	enc := newParquet(&buf, cols)
	for i, doc := range []string{`{"n":"seven","name":3,"ok":true,"score":2,"maybe":4.0,"new":[1]}`, `[1,2]`} {
		if err := enc.add(event.Event{Seq: uint64(i + 1), Data: []byte(doc)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.finish(); err != nil {
		t.Fatal(err)
	}
	rows := readParquet(t, buf.Bytes())
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	r := rows[0]
	if r["n"] != nil || r["name"] != nil || r["ok"] != true || r["score"] != 2.0 || r["maybe"] != int64(4) ||
		r[ColExtra] != `{"n":"seven","name":3,"new":[1]}` || r[ColID] != nil || r[ColTime] != nil {
		t.Fatalf("row 1: %v", r)
	}
	if rows[1][ColExtra] != `{"":[1,2]}` || rows[1][ColSeq] != int64(2) {
		t.Fatalf("row 2: %v", rows[1])
	}
}

// TestParquetReservedNames: a schema declaring a bookkeeping column is refused.
func TestParquetReservedNames(t *testing.T) {
	if _, err := columnsOf(map[string]any{"properties": map[string]any{ColSeq: map[string]any{"type": "integer"}}}); err == nil {
		t.Fatal("no error")
	}
}

// TestParquetRowGroups: a large object is written in several row groups
// (bounded memory) and reads back whole.
func TestParquetRowGroups(t *testing.T) {
	cols, err := columnsOf(map[string]any{"properties": map[string]any{"s": map[string]any{"type": "string"}}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := newParquet(&buf, cols)
	big := bytes.Repeat([]byte("x"), 4000)
	const n = 5000 // 20 MB of events: three row groups
	for i := range n {
		doc := append(append([]byte(`{"s":"`), big...), `"}`...)
		if err := enc.add(event.Event{Seq: uint64(i + 1), Data: doc}); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.finish(); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if g := len(f.RowGroups()); g < 3 || f.NumRows() != n {
		t.Fatalf("%d row groups, %d rows", g, f.NumRows())
	}
}
