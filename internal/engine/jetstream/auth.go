package jetstream

import (
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Credentials say who sluice is to NATS and, for the embedded server, who
// else may use its port. Sluice's identity is one of User and Password,
// NkeySeedFile or CredsFile (external servers only). Once the embedded
// server has a user, every connection needs one: the in-process
// connection is authenticated like any other (nats-server checks
// in-process clients as it checks TCP ones), so sluice's own user is
// required with Users.
type Credentials struct {
	User, Password string
	// NkeySeedFile is the path of an nkey seed; on the embedded server it
	// becomes a user by the seed's public key.
	NkeySeedFile string
	// CredsFile is the path of a .creds file (user JWT and seed).
	CredsFile string
	// Users are other clients of the embedded server's port.
	Users []User
}

// User is a client of the embedded server's port and what it may do.
// An empty Publish or Subscribe allows nothing: a list left out is no open door.
type User struct {
	User, Password     string
	Publish, Subscribe []string
}

// own reports whether sluice's own identity is set.
func (c Credentials) own() bool { return c.User != "" || c.NkeySeedFile != "" || c.CredsFile != "" }

// String names sluice's identity in errors, never with a secret.
func (c Credentials) String() string {
	switch {
	case c.User != "":
		return fmt.Sprintf("user %q", c.User)
	case c.NkeySeedFile != "":
		return "nkey seed " + c.NkeySeedFile
	case c.CredsFile != "":
		return "creds file " + c.CredsFile
	}
	return "none"
}

// serve gives the embedded server its users: sluice's, with no
// permission limits, and the others with what they may publish and
// subscribe to. Without credentials the server takes anyone.
func (c Credentials) serve(opts *server.Options) error {
	if !c.own() {
		if len(c.Users) > 0 {
			return errors.New("embedded nats: users of the port need a user for sluice's own connection")
		}
		return nil
	}
	switch {
	case c.CredsFile != "":
		return errors.New("embedded nats: a creds file is for an external NATS with JWT accounts; the embedded server takes a user and password or an nkey seed")
	case c.User != "":
		opts.Users = append(opts.Users, &server.User{Username: c.User, Password: c.Password})
	default:
		pub, err := seedPublicKey(c.NkeySeedFile)
		if err != nil {
			return err
		}
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: pub})
	}
	for _, u := range c.Users {
		opts.Users = append(opts.Users, &server.User{Username: u.User, Password: u.Password,
			Permissions: &server.Permissions{Publish: allowOnly(u.Publish), Subscribe: allowOnly(u.Subscribe)}})
	}
	return nil
}

// allowOnly allows the subjects given and nothing else. nats-server reads
// a nil permission as "all", so none given is said as a denial of all.
func allowOnly(subjects []string) *server.SubjectPermission {
	if len(subjects) == 0 {
		return &server.SubjectPermission{Deny: []string{">"}}
	}
	return &server.SubjectPermission{Allow: subjects}
}

func seedPublicKey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("nkey seed: %w", err)
	}
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		return "", fmt.Errorf("nkey seed %s: %w", path, err)
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		return "", fmt.Errorf("nkey seed %s: %w", path, err)
	}
	return pub, nil
}

// connect are the options that present sluice's identity.
func (c Credentials) connect() ([]nats.Option, error) {
	switch {
	case c.User != "":
		return []nats.Option{nats.UserInfo(c.User, c.Password)}, nil
	case c.NkeySeedFile != "":
		opt, err := nats.NkeyOptionFromSeed(c.NkeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nkey seed: %w", err)
		}
		return []nats.Option{opt}, nil
	case c.CredsFile != "":
		if _, err := os.Stat(c.CredsFile); err != nil { // nats.go reads it at each connect, and would only fail there
			return nil, fmt.Errorf("creds file: %w", err)
		}
		return []nats.Option{nats.UserCredentials(c.CredsFile)}, nil
	}
	return nil, nil
}

// refused reports whether err is a server's "no" to the credentials
// presented (or to none).
func refused(err error) bool { return authRefusal(err) != nil }

// authErrors are the client's errors of a server's "no" to credentials.
var authErrors = []error{nats.ErrAuthorization, nats.ErrAuthExpired, nats.ErrAuthRevoked, nats.ErrAccountAuthExpired}

// authRefusal is the client's own error for err when err is a server's "no"
// to the credentials, or nil. nats.go reports one refusal two ways: as
// the server wrote it ("nats: Authorization Violation") when the
// connect's answer carried it, and as its sentinel (lower case) when it
// came later; one text reads better in logs and in tests.
func authRefusal(err error) error {
	for _, e := range authErrors {
		if errors.Is(err, e) {
			return e
		}
	}
	return nil
}

// RefusedError is an external NATS that does not take sluice's
// credentials. It is no outage (not engine.ErrUnavailable): waiting does
// not mend it, the configuration or the server's users must change, and
// the client gives up after the server said no twice.
type RefusedError struct {
	URL         string
	Credentials string // as Credentials.String names them
	Err         error
}

func (e *RefusedError) Error() string {
	if e.Credentials == "none" {
		return fmt.Sprintf("NATS at %s wants credentials and sluice presented none (nats.user and nats.password, nats.nkey_seed_file or nats.creds_file): %v", e.URL, e.Err)
	}
	return fmt.Sprintf("NATS at %s refused sluice's credentials (%s): %v", e.URL, e.Credentials, e.Err)
}

func (e *RefusedError) Unwrap() error { return e.Err }
