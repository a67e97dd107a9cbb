package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/testenv"
)

// TestServeWithExternalNATS runs `sluice serve --nats URL` against a
// separate nats-server process built from the module version sluice embeds:
// events and the catalog live there, so a second sluice process (another
// node, with its own empty data directory) sees them.
func TestServeWithExternalNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the external nats-server build")
	}
	bin := buildBinary(t)
	natsBin := filepath.Join(t.TempDir(), "nats-server")
	if out, err := exec.Command("go", "build", "-o", natsBin, "github.com/nats-io/nats-server/v2").CombinedOutput(); err != nil {
		t.Fatalf("build nats-server: %v\n%s", err, out)
	}
	natsAddr := freeAddr(t)
	host, port, _ := net.SplitHostPort(natsAddr)
	ns := exec.Command(natsBin, "-a", host, "-p", port, "-js", "-sd", t.TempDir())
	if err := ns.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ns.Process.Kill(); _ = ns.Wait() }()

	schema, _ := filepath.Abs("../../testdata/schemas/mediawiki/recentchange/1.0.0.yaml")
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	// two nodes on one engine keep their tables in PostgreSQL (with SQLite the second is refused)
	os.WriteFile(cfg, []byte("table_store: "+testenv.PostgresSchema(t)+"\nstreams:\n  wikimedia.recentchange:\n    schema: "+schema+"\n"), 0o644)
	events, _ := os.ReadFile("../../testdata/recentchange/enwiki-edits-2023-07-29.ndjson")

	serve := func(node string) (*exec.Cmd, string) {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "serve", "--config", cfg, "--data", t.TempDir(), "--addr", addr, "--nats", "nats://"+natsAddr, "--node", node)
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("sluice log:\n%s", logs.String())
			}
		})
		return cmd, "http://" + addr
	}
	stopServe := func(cmd *exec.Cmd) {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("sluice exit: %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal("sluice did not stop")
		}
	}
	a, baseA := serve("a")
	waitReady(t, baseA)
	resp, err := http.Post(baseA+"/v1/streams/wikimedia.recentchange/events", "application/x-ndjson", bytes.NewReader(events))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("produce on node A: %v %v", resp, err)
	}
	resp.Body.Close()
	b, baseB := serve("b") // a second node on the same cluster
	waitReady(t, baseB)
	resp, err = http.Get(baseB + "/v1/streams/wikimedia.recentchange/events?limit=1000")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if n := strings.Count(body.String(), "\n"); n != 100 {
		t.Fatalf("node B reads %d events, want the 100 node A stored", n)
	}
	http.DefaultClient.CloseIdleConnections()
	stopServe(a)
	stopServe(b)
}
