package config

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
