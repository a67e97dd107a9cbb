package config

import (
	"fmt"
	"os"
	"strings"
)

// minMaxStore is the smallest store limit accepted: the catalog and a
// stream's first blocks need some room before any event is stored.
const minMaxStore = 1 << 20

// validate checks the storage limits of the embedded server. Their
// defaults depend on the disk, so the engine sets them when it opens the
// data directory (package engine/jetstream).
func (n NATS) validate(add func(path, format string, args ...any)) {
	if n.MaxStore != 0 && n.MaxStore < minMaxStore {
		add("nats.max_store", "at least 1MiB, got %d bytes", n.MaxStore)
	}
	if n.URL != "" && n.MaxStore != 0 {
		add("nats.max_store", "limits the embedded server's store; an external server's limits are set on that server")
	}
	if n.URL != "" && n.MinFreeDisk != nil {
		add("nats.min_free_disk", "is kept on the embedded server's disk; an external server's disk is its own")
	}
	n.validateAuth(add)
}

// StoreLimits are the embedded server's storage limits as the engine takes
// them: 0 means the default, a negative reserve means none.
func (n NATS) StoreLimits() (maxStore, minFreeDisk int64) {
	switch {
	case n.MinFreeDisk == nil:
	case *n.MinFreeDisk == 0:
		minFreeDisk = -1
	default:
		minFreeDisk = int64(*n.MinFreeDisk)
	}
	return int64(n.MaxStore), minFreeDisk
}

// NATSUser is a client of the embedded server's port other than sluice:
// a name, a password, and the subjects it may publish and subscribe to.
// An empty list allows nothing, so that a forgotten list is no open door.
type NATSUser struct {
	User        string   `yaml:"user"`
	Password    string   `yaml:"password"`
	PasswordEnv string   `yaml:"password_env"`
	Publish     []string `yaml:"publish"`
	Subscribe   []string `yaml:"subscribe"`
}

// NATSCredentials are the NATS identities as the engine takes them:
// passwords read from the environment, paths made absolute.
type NATSCredentials struct {
	User, Password string
	NkeySeedFile   string
	CredsFile      string
	Users          []NATSUserCredentials
}

// NATSUserCredentials is a user of the embedded server's port.
type NATSUserCredentials struct {
	User, Password     string
	Publish, Subscribe []string
}

// HasCredentials reports whether sluice's own NATS identity is set
// (user, nkey seed or creds file).
func (n NATS) HasCredentials() bool {
	return n.User != "" || n.NkeySeedFile != "" || n.CredsFile != ""
}

// Credentials are the identities to use, with passwords read from the
// environment now (an unset variable is an error naming its key) and
// files taken from dir, the config file's folder.
func (n NATS) Credentials(dir string) (NATSCredentials, error) {
	pw, err := password(n.Password, n.PasswordEnv, "nats.password_env")
	if err != nil {
		return NATSCredentials{}, err
	}
	c := NATSCredentials{User: n.User, Password: pw, NkeySeedFile: abs(dir, n.NkeySeedFile), CredsFile: abs(dir, n.CredsFile)}
	for i, u := range n.Users {
		pw, err := password(u.Password, u.PasswordEnv, fmt.Sprintf("nats.users[%d].password_env", i))
		if err != nil {
			return NATSCredentials{}, err
		}
		c.Users = append(c.Users, NATSUserCredentials{User: u.User, Password: pw, Publish: u.Publish, Subscribe: u.Subscribe})
	}
	return c, nil
}

// password is the password given, or the value of the variable env names.
func password(given, env, key string) (string, error) {
	if env == "" {
		return given, nil
	}
	v, ok := os.LookupEnv(env)
	if !ok || v == "" {
		return "", fmt.Errorf("config: %s: environment variable %s is not set", key, env)
	}
	return v, nil
}

// validateAuth checks the identities. Variables named by password_env are
// not read here: the file may be checked where they are not set.
func (n NATS) validateAuth(add adder) {
	pw := n.Password != "" || n.PasswordEnv != ""
	switch {
	case n.User != "" && !pw:
		add("nats.user", "set nats.password too (or nats.password_env)")
	case n.User == "" && pw:
		add("nats.password", "set nats.user too")
	}
	if n.Password != "" && n.PasswordEnv != "" {
		add("nats.password_env", "give nats.password or nats.password_env, not both")
	}
	ways := 0
	for _, set := range []bool{n.User != "", n.NkeySeedFile != "", n.CredsFile != ""} {
		if set {
			ways++
		}
	}
	if ways > 1 {
		add("nats", "give one of nats.user, nats.nkey_seed_file and nats.creds_file: they are three ways to say who sluice is")
	}
	if n.CredsFile != "" && n.URL == "" {
		add("nats.creds_file", "is for an external NATS that uses JWT accounts (nats.url); the embedded server takes nats.user or nats.nkey_seed_file")
	}
	if len(n.Users) == 0 {
		return
	}
	if n.URL != "" {
		add("nats.users", "are users of the embedded server's port; an external server's users are configured on that server")
		return
	}
	if n.User == "" && n.NkeySeedFile == "" {
		// Once the server has users, every connection needs one, sluice's too.
		add("nats.users", "need nats.user (or nats.nkey_seed_file) for sluice's own connection")
	}
	// Without nats.listen they cannot connect, and are harmless: not an
	// error, since --nats-listen may give the port after the file is read
	// (the engine logs a warning).
	seen := map[string]int{}
	if n.User != "" {
		seen[n.User] = -1
	}
	for i, u := range n.Users {
		p := fmt.Sprintf("nats.users[%d]", i)
		switch j, dup := seen[u.User]; {
		case u.User == "":
			add(p+".user", "required")
		case dup && j < 0:
			add(p+".user", "%q is sluice's own user (nats.user)", u.User)
		case dup:
			add(p+".user", "%q is nats.users[%d] already", u.User, j)
		default:
			seen[u.User] = i
		}
		switch {
		case u.Password == "" && u.PasswordEnv == "":
			add(p+".password", "required (or password_env)")
		case u.Password != "" && u.PasswordEnv != "":
			add(p+".password_env", "give password or password_env, not both")
		}
		checkSubjects(p+".publish", u.Publish, add)
		checkSubjects(p+".subscribe", u.Subscribe, add)
	}
}

func checkSubjects(p string, subjects []string, add adder) {
	for k, s := range subjects {
		if !validSubject(s) {
			add(fmt.Sprintf("%s[%d]", p, k), "%q is not a NATS subject (tokens separated by dots, * and > as wildcards)", s)
		}
	}
}

// validSubject is a cheap check of a subject or subject pattern: no empty
// token, no white space, > only last. The server checks the rest.
func validSubject(s string) bool {
	if s == "" {
		return false
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		if t == "" || strings.ContainsAny(t, " \t\r\n") || (t == ">" && i != len(tokens)-1) {
			return false
		}
	}
	return true
}
