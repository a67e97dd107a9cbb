package httpapi

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine/jetstream"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/stream"
)

// TestKeepAliveAndShutdown checks that an idle subscription gets comment
// lines, and that CloseSubscriptions ends it (as a graceful shutdown does).
func TestKeepAliveAndShutdown(t *testing.T) {
	ctx := context.Background()
	e, err := jetstream.Open(ctx, jetstream.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cat, err := catalog.Open(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	svc := stream.New(e, cat, nil, nil)
	b, _ := schema.FromDocument("urn:x", []byte(`{"type":"object"}`))
	if _, err := svc.Create(ctx, catalog.Stream{Name: "idle"}, b); err != nil {
		t.Fatal(err)
	}
	api := New(svc, Options{KeepAlive: 50 * time.Millisecond})
	srv := httptest.NewServer(api)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/v1/streams/idle/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	var lines []string
	for len(lines) < 5 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", lines, err)
		}
		if line != "\n" {
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	if lines[0] != ":ok" || lines[1] != ": keep-alive" || lines[4] != ": keep-alive" {
		t.Fatalf("lines %q", lines)
	}
	api.CloseSubscriptions()
	done := make(chan struct{})
	go func() {
		for {
			if _, err := r.ReadString('\n'); err != nil {
				close(done)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("CloseSubscriptions did not end the subscription")
	}
}
