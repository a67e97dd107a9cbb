package node

import (
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/stream"
)

// readLimits are the configured read limits, defaults where unset.
func readLimits(r config.Reads) stream.ReadLimits {
	l := stream.DefaultReadLimits
	if r.TailBytes > 0 {
		l.TailBytes = int64(r.TailBytes)
	}
	if r.MaxBehind > 0 {
		l.MaxBehind = int64(r.MaxBehind)
	}
	l.MaxBehind = min(l.MaxBehind, l.TailBytes)
	return l
}
