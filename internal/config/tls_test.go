package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/testenv"
)

func TestTLSPathsAreRelativeToTheFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "certs"), 0o755); err != nil {
		t.Fatal(err)
	}
	cert, key := testenv.Cert(t, filepath.Join(dir, "certs"), "node")
	path := filepath.Join(dir, "sluice.yaml")
	yaml := "http:\n  tls:\n    cert: certs/node.crt\n    key: certs/node.key\n    ca: certs/node.crt\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // not the file's folder
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TLS(); !got.Enabled() || got.Cert != cert || got.Key != key || got.CA != cert {
		t.Fatalf("TLS() = %+v", got)
	}
	if Default().TLS().Enabled() {
		t.Fatal("TLS on by default")
	}
}

func TestTLSErrorsNameTheKeyAndFile(t *testing.T) {
	dir := t.TempDir()
	cert, key := testenv.Cert(t, dir, "a")
	_, otherKey := testenv.Cert(t, dir, "b")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.crt")
	for _, c := range []struct{ tls, want string }{
		{"cert: " + cert, "http.tls.key: set with http.tls.cert"},
		{"key: " + key, "http.tls.cert: set with http.tls.key"},
		{"ca: " + cert, "http.tls.ca: set with http.tls.cert and http.tls.key"},
		{"cert: " + missing + ", key: " + key, "http.tls.cert: stat " + missing + ": no such file"},
		{"cert: " + cert + ", key: " + otherKey, "http.tls: " + cert + " and " + otherKey + " do not load as a key pair"},
		{"cert: " + notPEM + ", key: " + key, "http.tls: " + notPEM + " and " + key + " do not load as a key pair"},
		{"cert: " + cert + ", key: " + key + ", ca: " + notPEM, "http.tls.ca: " + notPEM + " holds no PEM certificate"},
		{"cert: " + cert + ", key: " + key + ", ca: " + missing, "http.tls.ca: open " + missing},
	} {
		_, err := Parse([]byte("http:\n  tls: {" + c.tls + "}\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("tls {%s}: want %q, got %v", c.tls, c.want, err)
		}
	}
	if _, err := Parse([]byte("http:\n  tls: {cert: " + cert + ", key: " + key + ", ca: " + cert + "}\n")); err != nil {
		t.Fatal(err)
	}
}
