package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/testenv"
)

// s3Server is an S3-compatible server on loopback with a bucket for the test.
type s3Server struct {
	endpoint string // http://127.0.0.1:PORT
	bucket   string
	restart  func(t *testing.T) // stops the server and starts it again when t says; nil for an external server
	stop     func()
}

// newS3 gives an S3 server: the one SLUICE_TEST_S3 names (an http://
// loopback URL; SLUICE_TEST_S3_ACCESS_KEY, SLUICE_TEST_S3_SECRET_KEY, and
// SLUICE_TEST_S3_BUCKET, an existing bucket, default "sluice-test"), or a
// versitygw (github.com/versity/versitygw) it starts itself, found on PATH
// or in $(go env GOPATH)/bin, storing under t.TempDir(). Without either the
// test skips (fails with SLUICE_TEST_STRICT=1).
func newS3(t *testing.T) *s3Server {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true") // never ask for credentials off the machine
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	if ep := os.Getenv("SLUICE_TEST_S3"); ep != "" {
		if !strings.HasPrefix(ep, "http://127.0.0.1:") && !strings.HasPrefix(ep, "http://localhost:") && !strings.HasPrefix(ep, "http://[::1]:") {
			t.Fatalf("SLUICE_TEST_S3=%s: only a server on loopback", ep)
		}
		t.Setenv("AWS_ACCESS_KEY_ID", os.Getenv("SLUICE_TEST_S3_ACCESS_KEY"))
		t.Setenv("AWS_SECRET_ACCESS_KEY", os.Getenv("SLUICE_TEST_S3_SECRET_KEY"))
		bucket := cmpOr(os.Getenv("SLUICE_TEST_S3_BUCKET"), "sluice-test")
		return &s3Server{endpoint: ep, bucket: bucket, stop: func() {}}
	}
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "versitygw")
		if _, err := os.Stat(bin); err != nil {
			testenv.Skip(t, "no S3 server: set SLUICE_TEST_S3=http://127.0.0.1:PORT, or install versitygw: "+
				"go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
		}
	}
	const access, secret = "sluice-test", "sluice-test-secret"
	t.Setenv("AWS_ACCESS_KEY_ID", access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "sluice-test"), 0o755); err != nil { // the posix backend: a folder is a bucket
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var cmd *exec.Cmd
	var logs bytes.Buffer
	run := func() {
		cmd = exec.Command(bin, "--access", access, "--secret", secret, "--port", addr, "--quiet", "posix", root)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("versitygw did not listen on %s:\n%s", addr, logs.String())
			}
		}
	}
	kill := func() {
		if cmd != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			cmd = nil
		}
	}
	run()
	t.Cleanup(kill)
	return &s3Server{endpoint: "http://" + addr, bucket: "sluice-test", stop: kill,
		restart: func(*testing.T) { kill(); run() }}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// url is the files URL of the bucket under prefix.
func (s *s3Server) url(prefix string) string {
	return fmt.Sprintf("s3://%s?endpoint=%s&region=us-east-1&use_path_style=true&prefix=%s", s.bucket, s.endpoint, prefix)
}

// readAll reads every object of a bucket, by key, with their modification times.
func readAll(t *testing.T, rawURL string) (map[string][]byte, map[string]time.Time) {
	t.Helper()
	ctx := context.Background()
	b, err := OpenBucket(ctx, rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	objs, mod := map[string][]byte{}, map[string]time.Time{}
	it := b.List(nil)
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return objs, mod
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, ok := ParseName(o.Key[strings.LastIndexByte(o.Key, '/')+1:]); !ok {
			t.Fatalf("not an object: %s", o.Key)
		}
		if objs[o.Key], err = b.ReadAll(ctx, o.Key); err != nil {
			t.Fatal(err)
		}
		mod[o.Key] = o.ModTime
	}
}

// TestS3 runs the sink against a real S3-compatible server: objects in
// partitions, every event exactly once, a replay that finds every object
// committed, and the server going away and coming back meanwhile.
func TestS3(t *testing.T) {
	srv := newS3(t)
	svc := newService(t)
	mixed(t, svc, 300)
	prefix := fmt.Sprintf("run-%d/", time.Now().UnixNano())
	cfg := Config{URL: srv.url(prefix), Format: Parquet, Partition: `dt={{.EventTime.Format "2006-01-02-15"}}`,
		MaxBytes: 8000, MaxEvents: 1000, MaxAge: 200 * time.Millisecond}
	s, stop := start(t, svc, cfg)
	waitFor(t, "every object", func() bool { return s.Status().Position == 300 })
	if srv.restart != nil {
		// The server goes away: the sink fails and retries; nothing is
		// skipped or doubled when it is back.
		srv.stop()
		var raws [][]byte
		for i := 300; i < 340; i++ {
			raws = append(raws, ev(i, t0.Add(3*time.Hour)))
		}
		produce(t, svc, "p", raws...)
		waitFor(t, "a failure", func() bool { return s.Status().State == Failing })
		srv.restart(t)
		waitFor(t, "every object after the outage", func() bool { return s.Status().Position == 340 })
		if st := s.Status(); st.Errors == 0 || st.LastError == "" {
			t.Fatalf("status after the outage: %+v", st)
		}
	}
	stop()
	evs := stored(t, svc)
	objs, mod := readAll(t, srv.url(prefix))
	if len(objs) < 6 {
		t.Fatalf("%d objects: not a useful test", len(objs))
	}
	unionOf(t, objs, evs)
	t.Logf("%d objects on %s hold the %d events of the pipeline exactly once (%d failures retried)", len(objs), srv.endpoint, s.Status().Events, s.Status().Errors)

	// Never acknowledged (a crash after each commit): the replay writes nothing.
	if err := svc.Engine().(engine.Consumers).DeleteConsumer(context.Background(), "out", s.name); err != nil {
		t.Fatal(err)
	}
	s, _ = start(t, svc, cfg)
	waitFor(t, "the replay", func() bool { return s.Status().Position == uint64(len(evs)) })
	if st := s.Status(); st.Skipped != uint64(len(objs)) || st.Objects != 0 {
		t.Fatalf("replay: skipped %d of %d objects, wrote %d", st.Skipped, len(objs), st.Objects)
	}
	again, mod2 := readAll(t, srv.url(prefix))
	if len(again) != len(objs) {
		t.Fatalf("%d objects after the replay, %d before", len(again), len(objs))
	}
	for k, m := range mod {
		if !mod2[k].Equal(m) {
			t.Fatalf("%s was written again", k)
		}
	}
}

// TestUnfinishedWritesAreInvisible checks what the sink relies on from
// both backends: an object whose writer is cancelled before Close is never
// visible, not even in part (S3: a multipart upload never completed).
func TestUnfinishedWritesAreInvisible(t *testing.T) {
	urls := map[string]string{"file": "file://" + t.TempDir()}
	t.Run("file", func(t *testing.T) { unfinished(t, urls["file"]) })
	t.Run("s3", func(t *testing.T) {
		srv := newS3(t)
		unfinished(t, srv.url(fmt.Sprintf("unfinished-%d/", time.Now().UnixNano())))
	})
}

func unfinished(t *testing.T, rawURL string) {
	ctx := context.Background()
	b, err := OpenBucket(ctx, rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	wctx, cancel := context.WithCancel(ctx)
	w, err := b.NewWriter(wctx, "a/00000000000000000001-00000000000000000002.ndjson", &blob.WriterOptions{BufferSize: partSize, MaxConcurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	// 12 MiB in 1 MiB writes: more than two 5 MiB parts
	chunk := bytes.Repeat([]byte(`{"x":1}`+"\n"), 1<<17)
	for range 12 {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := w.Close(); err == nil {
		t.Fatal("a cancelled writer closed without error")
	}
	it := b.List(nil)
	if o, err := it.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("visible after a cancelled write: %+v %v", o, err)
	}
}
