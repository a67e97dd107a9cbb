package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestServeStopsCleanly runs the real binary: SIGTERM ends it with exit
// status 0, and a restart on the same data keeps every acknowledged event.
func TestServeStopsCleanly(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	schema, _ := filepath.Abs("../../testdata/schemas/mediawiki/recentchange/1.0.0.yaml")
	cfg := filepath.Join(data, "sluice.yaml")
	if err := os.WriteFile(cfg, []byte("streams:\n  wikimedia.recentchange:\n    schema: "+schema+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	events, err := os.ReadFile("../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		addr := freeAddr(t)
		var logs bytes.Buffer
		cmd := exec.Command(bin, "serve", "--config", cfg, "--data", filepath.Join(data, "d"), "--addr", addr)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		base := "http://" + addr
		waitReady(t, base)
		if round == 0 {
			resp, err := http.Post(base+"/v1/streams/wikimedia.recentchange/events", "application/x-ndjson", bytes.NewReader(events))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("produce: %v %v", resp, err)
			}
			resp.Body.Close()
		} else {
			resp, err := http.Get(base + "/v1/streams/wikimedia.recentchange/events?since=earliest&limit=1000")
			if err != nil {
				t.Fatal(err)
			}
			var body bytes.Buffer
			body.ReadFrom(resp.Body)
			resp.Body.Close()
			if got := strings.Count(body.String(), "\n"); got != 100 || resp.Header.Get("Sluice-Next") != "101" {
				t.Fatalf("after restart: %d events, next %s", got, resp.Header.Get("Sluice-Next"))
			}
		}
		http.DefaultClient.CloseIdleConnections()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: exit: %v\n%s", round, err, logs.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("round %d: no exit 30s after SIGTERM\n%s", round, logs.String())
		}
		if !strings.Contains(logs.String(), "msg=stopped") {
			t.Fatalf("round %d: no clean stop in the log:\n%s", round, logs.String())
		}
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBinary builds cmd/sluice once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sluice")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatal("not ready after 30s")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr())
}
