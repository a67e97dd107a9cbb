package node_test

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/field"
	"github.com/sluice-dev/sluice/internal/pipeline"
)

const sqlPipeline = `
pipelines:
  x:
    from: in
    function: {name: identity}
    to:
      - stream: out
      - stream: other
      - sql:
%s
`

func sqlDoc(body string) []byte {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(body), "\n") {
		lines = append(lines, "          "+l)
	}
	return []byte(strings.Replace(sqlPipeline, "%s", strings.Join(lines, "\n"), 1))
}

func TestSQLOutputParses(t *testing.T) {
	c, err := checkDoc(sqlDoc(`
url: postgres://postgres@127.0.0.1:5432/test?sslmode=disable
table: page_images_latest
mode: upsert
key: [page_id, wiki]
columns:
  page_id: /page_id
  wiki: /wiki
  image_list: /image_list
`))
	if err != nil {
		t.Fatal(err)
	}
	var s pipeline.SQLOutputConfig
	if kind, settings := c.Pipelines["x"].To[2].Kind(); kind != "sql" || field.Decode(settings, &s) != nil {
		t.Fatalf("not a sql output: %v", kind)
	}
	if s.Table != "page_images_latest" || s.Mode != pipeline.SQLUpsert || len(s.Key) != 2 || s.Columns["wiki"] != "/wiki" {
		t.Fatalf("parsed %+v", s)
	}
	if _, err := checkDoc(sqlDoc("url: sqlite:out.db\ntable: t\ncolumns: {a: /a}")); err != nil {
		t.Fatalf("sqlite, default mode: %v", err)
	}
}

func TestSQLOutputErrorsNameThePath(t *testing.T) {
	const base = "url: sqlite:///tmp/x.db\ntable: t\n"
	cases := map[string]string{
		"table: t\ncolumns: {a: /a}":                      "pipelines.x.to[2].sql.url: required",
		"url: mysql://x\ntable: t\ncolumns: {a: /a}":      "pipelines.x.to[2].sql.url: want postgres",
		"url: sqlite://\ntable: t\ncolumns: {a: /a}":      "pipelines.x.to[2].sql.url: sqlite: needs a file path",
		"url: sqlite:a.db\ntable: Bad\ncolumns: {a: /a}":  "pipelines.x.to[2].sql.table",
		"url: sqlite:a.db\ncolumns: {a: /a}":              "pipelines.x.to[2].sql.table",
		base + "mode: merge\ncolumns: {a: /a}":            "pipelines.x.to[2].sql.mode",
		base + "mode: upsert\ncolumns: {a: /a}":           "pipelines.x.to[2].sql.key: required for mode upsert",
		base + "mode: upsert\nkey: [b]\ncolumns: {a: /a}": "pipelines.x.to[2].sql.key[0]: \"b\" is not one of the columns",
		base + "key: [a]\ncolumns: {a: /a}":               "pipelines.x.to[2].sql.key: only for mode upsert",
		base:                                              "pipelines.x.to[2].sql.columns: at least one column",
		base + "columns: {page_id: page_id}":              "pipelines.x.to[2].sql.columns.page_id",
		base + "columns: {page_id: ''}":                   "pipelines.x.to[2].sql.columns.page_id",
		base + "columns: {Page: /p}":                      "pipelines.x.to[2].sql.columns.Page: column names",
		base + "columns: {sluice_source: /p}":             "pipelines.x.to[2].sql.columns.sluice_source: names starting with sluice_ are reserved",
		base + "columns: {a: /a}\ncolour: red":            "field colour not found",
	}
	for body, want := range cases {
		_, err := checkDoc(sqlDoc(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to mention %q", body, err, want)
		}
	}
	// Two kinds in one output.
	doc := strings.Replace(string(sqlDoc(base+"columns: {a: /a}")), "      - sql:", "      - stream: s\n        sql:", 1)
	if _, err := checkDoc([]byte(doc)); err == nil || !strings.Contains(err.Error(), "pipelines.x.to[2]: give exactly one kind: files, sql, stream, table") {
		t.Errorf("two kinds: %v", err)
	}
}
