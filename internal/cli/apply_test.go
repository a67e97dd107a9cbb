package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// From an empty node to a running pipeline with only the CLI, then the
// plan of a change, a prune, and the export applied on a second empty
// node planning what the first holds.
func TestApplyPlanDryRunPruneAndExportRoundTrip(t *testing.T) {
	_, server := startNode(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.json"), []byte(`{"type":"object","required":["id"],"properties":{"id":{"type":"string"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	project := func(where string) {
		doc := `streams:
  in: {schema: in.json, id: /id, time: /t}
  out: {schema: in.json, id: /id, time: /t}
tables:
  t: {key: event.id, time: /t}
pipelines:
  p:
    from: in
    where: ` + where + `
    function: {name: identity}
    to: [{stream: out}, {table: t}]
`
		if err := os.WriteFile(filepath.Join(dir, "sluice.yaml"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	project("'true'")
	want(t, "dry run", mustRun(t, server, "apply", "--dry-run", dir), "+ streams.in\n+ streams.out\n+ tables.t\n+ pipelines.p\n(dry run: nothing changed)\n")
	want(t, "apply", mustRun(t, server, "apply", dir), "+ streams.in\n+ streams.out\n+ tables.t\n+ pipelines.p\napplied 4 change(s)\n")
	want(t, "again", mustRun(t, server, "apply", dir), "no changes\n")
	project("event.id != ''")
	want(t, "change", mustRun(t, server, "apply", dir), "~ pipelines.p (where)\napplied 1 change(s)\n")
	if out := mustRun(t, server, "pipeline", "history", "p"); strings.Count(out, "\n") != 2 || !strings.Contains(out, "[where]") {
		t.Fatalf("history:\n%s", out)
	}
	// invalid: every field at fault, by path
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("pipelines:\n  q: {from: in, function: {name: identity}, to: [{table: nope}]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, server, "apply", bad)
	if code == 0 || !strings.Contains(errOut, `pipelines.q.to[0].table: unknown table "nope"`) {
		t.Fatalf("invalid apply: %d %q", code, errOut)
	}
	// export, then apply it on an empty node: the same definitions
	exported := mustRun(t, server, "export")
	path := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(path, []byte(exported), 0o644); err != nil {
		t.Fatal(err)
	}
	want(t, "export applied again to the same node", mustRun(t, server, "apply", path), "no changes\n")
	_, empty := startNode(t)
	mustRun(t, empty, "apply", path)
	want(t, "the round trip", mustRun(t, empty, "export"), exported)
	// a pipeline made and removed with the kind's commands
	spec := filepath.Join(t.TempDir(), "q.yaml")
	if err := os.WriteFile(spec, []byte("from: in\nfunction: {name: identity}\nto: [{stream: out}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want(t, "create", mustRun(t, server, "pipeline", "create", "q", "-f", spec), "+ pipelines.q (version 1)\n")
	want(t, "prune", mustRun(t, server, "apply", "--prune", "--dry-run", dir), "- pipelines.q\n(dry run: nothing changed)\n")
	want(t, "rm", mustRun(t, server, "pipeline", "rm", "q"), "- pipelines.q\n")
	code, _, errOut = run(t, server, "table", "rm", "t")
	if code == 0 || !strings.Contains(errOut, "pipelines.p (to[1].table)") {
		t.Fatalf("rm a table in use: %d %q", code, errOut)
	}
}
