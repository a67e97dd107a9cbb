package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestNATSAuthErrorsNameTheKey(t *testing.T) {
	cases := map[string]string{
		"nats:\n  user: sluice\n":                                                                         "nats.user: set nats.password too",
		"nats:\n  password: x\n":                                                                          "nats.password: set nats.user too",
		"nats:\n  user: s\n  password: x\n  password_env: P\n":                                            "nats.password_env: give nats.password or nats.password_env, not both",
		"nats:\n  user: s\n  password: x\n  nkey_seed_file: s.nk\n":                                       "nats: give one of nats.user, nats.nkey_seed_file and nats.creds_file",
		"nats:\n  creds_file: s.creds\n":                                                                  "nats.creds_file: is for an external NATS",
		"nats:\n  listen: 127.0.0.1:0\n  users: [{user: r, password: x, subscribe: [_INBOX.>]}]\n":        "nats.users: need nats.user",
		"nats:\n  url: nats://x\n  user: s\n  password: x\n  users: [{user: r, password: x}]\n":           "nats.users: are users of the embedded server's port",
		"nats:\n  user: s\n  password: x\n  users: [{user: r, password: x}, {user: w}]\n":                 "nats.users[1].password: required",
		"nats:\n  user: s\n  password: x\n  users: [{password: x}]\n":                                     "nats.users[0].user: required",
		"nats:\n  user: s\n  password: x\n  users: [{user: s, password: x}]\n":                            `nats.users[0].user: "s" is sluice's own user`,
		"nats:\n  user: s\n  password: x\n  users: [{user: r, password: x}, {user: r, password: y}]\n":    `nats.users[1].user: "r" is nats.users[0] already`,
		"nats:\n  user: s\n  password: x\n  users: [{user: r, password: x, password_env: R}]\n":           "nats.users[0].password_env: give password or password_env, not both",
		"nats:\n  user: s\n  password: x\n  users: [{user: r, password: x, publish: [a.>.b]}]\n":          `nats.users[0].publish[0]: "a.>.b" is not a NATS subject`,
		"nats:\n  user: s\n  password: x\n  users: [{user: r, password: x, subscribe: [ok, \"a..b\"]}]\n": `nats.users[0].subscribe[1]: "a..b" is not a NATS subject`,
		"nats:\n  user: s\n  password: x\n  users: [{user: r, password: x, subscribe: [\"\"]}]\n":         `nats.users[0].subscribe[0]: "" is not a NATS subject`,
		"nats:\n  user: s\n  password: x\n  users: [{user: r, password: x, colour: red}]\n":               "field colour not found",
	}
	for doc, want := range cases {
		_, err := Parse([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to mention %q", doc, err, want)
		}
	}
}

func TestNATSCredentials(t *testing.T) {
	t.Setenv("SLUICE_NATS_PASSWORD", "from-env")
	t.Setenv("READER_PASSWORD", "r-env")
	c, err := Parse([]byte(`
nats:
  listen: 127.0.0.1:0
  user: sluice
  password_env: SLUICE_NATS_PASSWORD
  users:
    - {user: reader, password_env: READER_PASSWORD, publish: [a.b], subscribe: ["_INBOX.>"]}
    - {user: other, password: plain}
`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.NATS.HasCredentials() {
		t.Fatal("HasCredentials = false")
	}
	got, err := c.NATS.Credentials("/etc/sluice")
	if err != nil {
		t.Fatal(err)
	}
	want := NATSCredentials{User: "sluice", Password: "from-env", Users: []NATSUserCredentials{
		{User: "reader", Password: "r-env", Publish: []string{"a.b"}, Subscribe: []string{"_INBOX.>"}},
		{User: "other", Password: "plain"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("credentials\n got %+v\nwant %+v", got, want)
	}

	t.Setenv("READER_PASSWORD", "")
	if _, err := c.NATS.Credentials(""); err == nil || !strings.Contains(err.Error(), "nats.users[0].password_env: environment variable READER_PASSWORD is not set") {
		t.Fatalf("unset variable: err = %v", err)
	}
	c.NATS.PasswordEnv = "SLUICE_NATS_UNSET_FOR_TEST"
	if _, err := c.NATS.Credentials(""); err == nil || !strings.Contains(err.Error(), "nats.password_env: environment variable SLUICE_NATS_UNSET_FOR_TEST") {
		t.Fatalf("unset variable: err = %v", err)
	}
}

func TestNATSFilesAreRelativeToTheConfig(t *testing.T) {
	c, err := Parse([]byte("nats:\n  url: nats://x:4222\n  creds_file: sluice.creds\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.NATS.Credentials("/etc/sluice")
	if err != nil {
		t.Fatal(err)
	}
	if got.CredsFile != filepath.Join("/etc/sluice", "sluice.creds") || !c.NATS.HasCredentials() {
		t.Fatalf("credentials %+v", got)
	}
	if (NATS{}).HasCredentials() {
		t.Fatal("no identity: HasCredentials = true")
	}
}
