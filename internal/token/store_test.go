package token

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/engine/jetstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	e, err := jetstream.Open(context.Background(), jetstream.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	s, err := Open(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }

	made, admin, err := s.Bootstrap(ctx, "")
	if err != nil || !made || !strings.HasPrefix(admin, Prefix) {
		t.Fatalf("Bootstrap: %v %v %q", made, err, admin)
	}
	if made, _, err := s.Bootstrap(ctx, "another-admin-token-0123456789"); made || err != nil {
		t.Fatalf("a second Bootstrap made a token: %v %v", made, err)
	}
	at, err := s.Authenticate(ctx, admin)
	if err != nil || at.ID != BootstrapID || !at.AllowsAll(Admin) {
		t.Fatalf("Authenticate(admin) = %+v, %v", at, err)
	}

	tok, text, err := s.Create(ctx, NewRequest{Name: "reader", Grants: []Grant{{"stream:wiki.*", Read}}, Expires: time.Hour, By: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Hash == text || !strings.HasPrefix(text, Prefix+tok.ID+"_") {
		t.Fatalf("token %q, record %+v", text, tok)
	}
	got, err := s.Authenticate(ctx, text)
	if err != nil || got.Name != "reader" || !got.Allows("stream", "wiki.edits", Read) {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	other := "A" // the last character changed (CI once drew a token that ends in A)
	if strings.HasSuffix(text, other) {
		other = "B"
	}
	for _, bad := range []string{"", "nope", text + "x", text[:len(text)-1] + other, Prefix + tok.ID + "_x", strings.Repeat("a", 600)} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, ErrUnknown) {
			t.Errorf("Authenticate(%q) = %v, want unknown", bad, err)
		}
	}

	// Last use is recorded (not more than once a minute).
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[1].LastUsed == nil || list[1].Hash != "" {
		t.Fatalf("List = %+v, %v", list, err)
	}

	// Expired: refused, and says when.
	now = now.Add(time.Hour)
	if _, err := s.Authenticate(ctx, text); !errors.Is(err, ErrExpired) || !strings.Contains(err.Error(), "2026-12-02T11:00:00Z") {
		t.Fatalf("expired token: %v", err)
	}

	// Revoked: refused at once here.
	now = now.Add(-time.Minute)
	if err := s.Revoke(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, text); !errors.Is(err, ErrUnknown) {
		t.Fatalf("revoked token: %v", err)
	}
	if err := s.Revoke(ctx, tok.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}

	// No token text anywhere in the data directory.
	_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, secret := range []string{admin, text, admin[len(Prefix)+17:], text[len(Prefix)+17:]} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s holds a token's text", path)
			}
		}
		return nil
	})
}

// TestRevokedElsewhere: a token revoked through one store (node) is
// refused by another that used it a moment before, within Fresh.
func TestRevokedElsewhere(t *testing.T) {
	ctx := context.Background()
	a := openStore(t, t.TempDir())
	b := &Store{kv: a.kv, now: time.Now, cache: map[string]cached{}}
	_, text, err := a.Create(ctx, NewRequest{Name: "x", Grants: []Grant{{All, Read}}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := b.Authenticate(ctx, text)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		_, err := b.Authenticate(ctx, text)
		if errors.Is(err, ErrUnknown) {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("still accepted %v after the revocation", time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("refused %v after the revocation elsewhere", time.Since(start).Round(time.Millisecond))
}

func TestBootstrapWithText(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	if _, _, err := s.Bootstrap(ctx, "short"); err == nil {
		t.Fatal("a 5-character admin token was taken")
	}
	made, text, err := s.Bootstrap(ctx, "my-very-own-admin-token-0123")
	if err != nil || !made || text != "my-very-own-admin-token-0123" {
		t.Fatal(made, text, err)
	}
	if tok, err := s.Authenticate(ctx, text); err != nil || !tok.AllowsAll(Admin) {
		t.Fatal(tok, err)
	}
}

func TestCreateRefuses(t *testing.T) {
	s := openStore(t, t.TempDir())
	_, _, err := s.Create(context.Background(), NewRequest{Grants: []Grant{{"stream:x", "root"}, {"blob:x", Read}}})
	for _, want := range []string{"name: 1 to 100", `grants[0]: role "root"`, "grants[1]: resource"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
}
