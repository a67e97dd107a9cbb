//go:build unix

package jetstream

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// diskUsage reports the size of the filesystem holding dir and the bytes
// free to an unprivileged writer (root may use a few more on ext4: those
// are the filesystem's own reserve, not ours to spend).
func diskUsage(dir string) (size, free int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	bs := int64(st.Bsize)
	return int64(st.Blocks) * bs, int64(st.Bavail) * bs, nil
}
