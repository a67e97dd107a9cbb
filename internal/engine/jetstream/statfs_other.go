//go:build !unix

package jetstream

import "errors"

// diskUsage is not known here: the node keeps no disk reserve and needs
// nats.max_store to bound its store.
func diskUsage(dir string) (size, free int64, err error) {
	return 0, 0, errors.New("disk usage is not available on this system")
}
