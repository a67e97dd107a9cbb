package node_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/field"
	"github.com/sluice-dev/sluice/internal/files"
	"github.com/sluice-dev/sluice/internal/node"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/project"
)

// checkDoc parses a config and checks its pipelines and tables as applying
// it does (the output kinds' checks, files places across pipelines), each
// problem at its path in the file.
func checkDoc(doc []byte) (*config.Config, error) {
	c, err := config.Parse(doc)
	if err != nil {
		return nil, err
	}
	kinds := node.OutputKinds()
	var errs field.Errors
	names := make([]string, 0, len(c.Pipelines))
	for n := range c.Pipelines {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		errs.Under("pipelines."+n, kinds.Check(n, c.Pipelines[n], pipeline.CheckEnv{}))
	}
	errs = append(errs, project.SamePlaces(c.Pipelines)...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("config: %w", errs)
	}
	return c, nil
}

func filesOf(t *testing.T, o pipeline.OutputRef) files.Output {
	t.Helper()
	kind, settings := o.Kind()
	f, err := files.Decode(settings)
	if kind != "files" || err != nil {
		t.Fatalf("not a files output: %v %v", kind, err)
	}
	return f
}

const filesPipeline = `
pipelines:
  x:
    from: in
    function: {name: identity}
    to:
%s
`

// filesDoc is a config whose pipeline x has the outputs given (YAML list items).
func filesDoc(outputs string) []byte {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(outputs), "\n") {
		lines = append(lines, "      "+l)
	}
	return []byte(strings.Replace(filesPipeline, "%s", strings.Join(lines, "\n"), 1))
}

func TestFilesOutputParses(t *testing.T) {
	c, err := checkDoc(filesDoc(`
- stream: out
- files:
    url: file:///var/lib/sluice/out?prefix=page_images/
    format: parquet
    partition: '{{.EventTime.Format "2006/01/02/15"}}'
    roll: {max_bytes: 64MiB, max_age: 5m, max_events: 5000}
- files:
    url: s3://bucket?endpoint=http://127.0.0.1:7070&region=us-east-1&use_path_style=true
`))
	if err != nil {
		t.Fatal(err)
	}
	pl := c.Pipelines["x"]
	f := filesOf(t, pl.To[1])
	want := files.Config{URL: "file:///var/lib/sluice/out?prefix=page_images/", Format: "parquet",
		Partition: `{{.EventTime.Format "2006/01/02/15"}}`, MaxBytes: 64 << 20, MaxAge: 5 * time.Minute, MaxEvents: 5000}
	if f.Config() != want || f.StreamOf(pl) != "out" {
		t.Fatalf("parsed %+v", f)
	}
	if s3 := filesOf(t, pl.To[2]); s3.Config().Format != "" || s3.StreamOf(pl) != "out" {
		t.Fatalf("parsed %+v", s3)
	}
	c, err = checkDoc(filesDoc("- stream: a\n- stream: b\n- files: {url: 'file:///tmp/x', stream: b}"))
	if err != nil {
		t.Fatal(err)
	}
	if pl := c.Pipelines["x"]; filesOf(t, pl.To[2]).StreamOf(pl) != "b" {
		t.Fatal("stream b not chosen")
	}
}

func TestFilesOutputErrorsNameThePath(t *testing.T) {
	cases := map[string]string{
		"- stream: out\n- files: {format: ndjson}":                                            "pipelines.x.to[1].files.url: required",
		"- stream: out\n- files: {url: 'file://relative/dir'}":                                "pipelines.x.to[1].files.url: \"file://relative/dir\": want file:///absolute/dir",
		"- stream: out\n- files: {url: 'gs://bucket'}":                                        "pipelines.x.to[1].files.url: \"gs://bucket\": want a file:// or s3:// URL",
		"- stream: out\n- files: {url: 's3:///x'}":                                            "pipelines.x.to[1].files.url: \"s3:///x\": want s3://bucket",
		"- stream: out\n- files: {url: 's3://k:s@bucket'}":                                    "pipelines.x.to[1].files.url: credentials do not go in the URL",
		"- stream: out\n- files: {url: 'file:///x', format: csv}":                             "pipelines.x.to[1].files.format: \"csv\": want ndjson, ndjson.gz or parquet",
		"- stream: out\n- files: {url: 'file:///x', partition: '{{.Hour}}'}":                  "pipelines.x.to[1].files.partition: on an example event",
		"- stream: out\n- files: {url: 'file:///x', partition: '{{'}":                         "pipelines.x.to[1].files.partition: template",
		"- stream: out\n- files: {url: 'file:///x', roll: {max_bytes: 10}}":                   "pipelines.x.to[1].files.roll.max_bytes: at least 1KiB",
		"- stream: out\n- files: {url: 'file:///x', roll: {max_age: 1ms}}":                    "pipelines.x.to[1].files.roll.max_age: at least 100ms",
		"- stream: out\n- files: {url: 'file:///x', roll: {max_events: 2000000}}":             "pipelines.x.to[1].files.roll.max_events: want 1 to 1000000",
		"- stream: out\n- files: {url: 'file:///x', roll: {max_age: soon}}":                   "duration \"soon\"",
		"- files: {url: 'file:///x'}":                                                         "pipelines.x.to[0].files: a files output writes the pipeline's output stream: add a stream output",
		"- stream: a\n- stream: b\n- files: {url: 'file:///x'}":                               "pipelines.x.to[2].files.stream: required: the pipeline has 2 stream outputs",
		"- stream: a\n- files: {url: 'file:///x', stream: c}":                                 "pipelines.x.to[1].files.stream: \"c\" is not a stream output of this pipeline ([a])",
		"- stream: a\n- files: {url: 'file:///x'}\n- files: {url: 'file:///x?metadata=skip'}": "pipelines.x.to[2].files.url: another files output of this pipeline writes the same place",
		"- stream: a\n  files: {url: 'file:///x'}":                                            "pipelines.x.to[0]: give exactly one kind: files, sql, stream, table",
		"- stream: a\n- files: {url: 'file:///x', bucket: b}":                                 "field bucket not found",
	}
	two := `
pipelines:
  a: {from: in, function: {name: identity}, to: [{stream: a}, {files: {url: 's3://b?prefix=p/&region=x'}}]}
  b: {from: in, function: {name: identity}, to: [{stream: b}, {files: {url: 's3://b?region=y&prefix=p/'}}]}
`
	if _, err := checkDoc([]byte(two)); err == nil || !strings.Contains(err.Error(), "pipelines.b.to[1].files.url: pipelines.a.to[1].files.url writes the same place") {
		t.Errorf("two pipelines, one place: %v", err)
	}
	for doc, want := range cases {
		_, err := checkDoc(filesDoc(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s\n got %v\nwant %s", doc, err, want)
		}
	}
}
