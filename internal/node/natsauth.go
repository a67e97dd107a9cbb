package node

import (
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/engine/jetstream"
)

// natsCredentials are the file's NATS identities as the engine takes
// them; a password_env whose variable is unset is an error naming it.
func natsCredentials(cfg *config.Config) (jetstream.Credentials, error) {
	c, err := cfg.NATS.Credentials(cfg.Dir())
	if err != nil {
		return jetstream.Credentials{}, err
	}
	out := jetstream.Credentials{User: c.User, Password: c.Password, NkeySeedFile: c.NkeySeedFile, CredsFile: c.CredsFile}
	for _, u := range c.Users {
		out.Users = append(out.Users, jetstream.User(u))
	}
	return out, nil
}
