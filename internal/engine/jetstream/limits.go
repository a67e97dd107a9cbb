package jetstream

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/dustin/go-humanize"
	"github.com/nats-io/nats-server/v2/server"
)

// Storage limits of the embedded server.
//
// JetStream's own default store limit is 75% of the disk that is free when
// the server starts: it changes with whatever else is on the disk at that
// moment, leaves a quarter of the free space unused, and says nothing about
// the disk filling up later, when a write fails with ENOSPC and the stream
// that hit it stops storing until restarted. So the node sets the limit
// itself, and keeps a reserve of free disk below which it refuses appends
// before the disk is full:
//
//   - min_free_disk, by default 5% of the filesystem (the share at which
//     Elasticsearch's flood-stage watermark stops writes), at most 1 GiB:
//     room for JetStream's own index and compaction writes, the table store,
//     logs, and an operator's shell.
//   - max_store, by default the filesystem's size less that reserve: the
//     store may use the whole disk, and the reserve, which also counts other
//     files, is what stops it first. The figure does not depend on what is
//     free at start-up, so it is the same at every start.
const (
	reserveShare      = 20      // the default reserve is 1/20 of the filesystem...
	maxDefaultReserve = 1 << 30 // ...at most 1 GiB
	minStore          = 1 << 20 // the smallest default store limit
	maxMemory         = 256 << 20
)

// storeLimits are the limits in force, and the disk they came from.
type storeLimits struct {
	MaxStore int64
	Reserve  int64 // 0: no reserve
	DiskSize int64 // 0 when the system does not say
	DiskFree int64 // at start

	maxStoreSet, reserveSet bool
}

// resolveLimits sets the defaults for a store directory: maxStore 0 and
// reserve 0 mean the default, a negative reserve means none.
func resolveLimits(dir string, maxStore, reserve int64) (storeLimits, error) {
	l := storeLimits{MaxStore: maxStore, Reserve: max(reserve, 0), maxStoreSet: maxStore > 0, reserveSet: reserve != 0}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return l, fmt.Errorf("jetstream store: %w", err)
	}
	size, free, err := diskUsage(dir)
	if err != nil {
		// Without the disk's figures there is no reserve to keep, and the
		// store limit must come from the config or JetStream's fallback.
		l.Reserve = 0
		if !l.maxStoreSet {
			l.MaxStore = server.JetStreamMaxStoreDefault
		}
		return l, nil
	}
	l.DiskSize, l.DiskFree = size, free
	if !l.reserveSet {
		l.Reserve = min(size/reserveShare, maxDefaultReserve)
	}
	if !l.maxStoreSet {
		l.MaxStore = max(size-l.Reserve, minStore)
	}
	return l, nil
}

// log says which limits are in force and where they came from.
func (l storeLimits) log(log *slog.Logger, dir string) {
	from := func(set bool, dflt string) string {
		if set {
			return "config"
		}
		return dflt
	}
	log.Info("jetstream storage limits", "dir", dir,
		"max_store", humanize.IBytes(uint64(l.MaxStore)), "max_store_from", from(l.maxStoreSet, "default: disk size less min_free_disk"),
		"min_free_disk", humanize.IBytes(uint64(l.Reserve)), "min_free_disk_from", from(l.reserveSet, "default: 5% of the disk, at most 1GiB"),
		"max_memory", humanize.IBytes(maxMemory),
		"disk_size", humanize.IBytes(uint64(l.DiskSize)), "disk_free", humanize.IBytes(uint64(l.DiskFree)))
	if l.DiskSize > 0 && l.MaxStore > l.DiskSize-l.Reserve {
		log.Warn("nats.max_store is more than the disk can hold: appends stop at the disk reserve first",
			"max_store", humanize.IBytes(uint64(l.MaxStore)), "disk_size", humanize.IBytes(uint64(l.DiskSize)))
	}
	if l.DiskFree > 0 && l.DiskFree < l.Reserve {
		log.Warn("the disk is already below the reserve: appends are refused until space is freed",
			"disk_free", humanize.IBytes(uint64(l.DiskFree)), "min_free_disk", humanize.IBytes(uint64(l.Reserve)))
	}
}
