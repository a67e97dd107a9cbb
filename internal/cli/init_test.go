package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
)

// sluice init DIR makes a project that `sluice test` passes and a node runs.
func TestInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	out, err := runCLI(t, "init", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	exists(t, dir, "sluice.yaml", "schemas/signups.json", "schemas/welcomes.json", "tests/welcome.yaml", "events/signups.ndjson", "README.md")
	readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	for _, want := range []string{"# shop\n", "sluice test .", "sluice serve --config sluice.yaml", "sluice produce signups events/signups.ndjson"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README.md has no %q", want)
		}
	}
	sluiceTestPasses(t, dir)

	// a node on DIR/sluice.yaml runs the pipeline
	cfg, err := config.Load(filepath.Join(dir, "sluice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	server := startConfigured(t, cfg).URL()
	mustRun(t, server, "produce", "signups", filepath.Join(dir, "events/signups.ndjson"))
	var got []map[string]any
	for deadline := time.Now().Add(20 * time.Second); len(got) < 2 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = nil
		for _, l := range strings.Split(strings.TrimSpace(mustRun(t, server, "tail", "welcomes")), "\n") {
			var e map[string]any
			if json.Unmarshal([]byte(l), &e) == nil {
				got = append(got, e)
			}
		}
	}
	if len(got) != 2 || got[0]["id"] != "welcome-s1" || got[0]["message"] != "Welcome, Ada!" || got[1]["id"] != "welcome-s3" || got[1]["time"] != "2026-01-02T03:04:07Z" {
		t.Fatalf("welcomes: %v", got)
	}
}

func TestInitRefusesAFolderInUse(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644)
	if out, err := runCLI(t, "init", dir); err == nil || !strings.Contains(err.Error(), "the folder is not empty (it has notes.txt); --force writes into it anyway") {
		t.Fatalf("init into a folder in use: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "sluice.yaml")); err == nil {
		t.Fatal("sluice.yaml written despite the refusal")
	}
	if out, err := runCLI(t, "init", dir, "--force"); err != nil {
		t.Fatalf("--force: %v\n%s", err, out)
	}
	exists(t, dir, "sluice.yaml", "notes.txt")
}
