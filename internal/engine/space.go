package engine

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrNoSpace is wrapped by every error that says the engine cannot store
// because it is out of space. It is not a fault of the request: the same
// request succeeds once space returns, which the engine notices by itself.
var ErrNoSpace = errors.New("out of storage space")

// SpaceCause says which limit was hit.
type SpaceCause string

const (
	// StoreLimit: the engine's own store limit (nats.max_store) is used up.
	StoreLimit SpaceCause = "store_limit"
	// DiskReserve: the free space on the data directory's filesystem is
	// below the reserve the node keeps (nats.min_free_disk); appends stop
	// before the disk is full.
	DiskReserve SpaceCause = "disk_reserve"
	// DiskFull: a write failed with "no space left on device"; the engine
	// restarts its store by itself once space returns.
	DiskFull SpaceCause = "disk_full"
)

// SpaceError is ErrNoSpace with its cause and the numbers behind it.
// Fields that do not apply to the cause are zero (Limit is 0 when unknown).
type SpaceError struct {
	Cause   SpaceCause
	Used    int64  // StoreLimit: bytes stored; DiskFull, DiskReserve: 0
	Limit   int64  // StoreLimit: the store limit
	Free    int64  // DiskReserve, DiskFull: bytes free on the filesystem
	Reserve int64  // DiskReserve: the reserve kept free
	Path    string // the filesystem's directory, when a disk is the cause
	Detail  string // what the engine said, for DiskFull
}

func (e *SpaceError) Error() string {
	switch e.Cause {
	case StoreLimit:
		if e.Limit > 0 {
			return fmt.Sprintf("out of storage space: the engine's store limit is reached: %s stored of %s (nats.max_store)",
				byteSize(e.Used), byteSize(e.Limit))
		}
		return "out of storage space: the engine's store limit is reached"
	case DiskReserve:
		return fmt.Sprintf("out of storage space: the disk holding %s has %s free, below the reserve of %s the node keeps (nats.min_free_disk)",
			e.Path, byteSize(e.Free), byteSize(e.Reserve))
	case DiskFull:
		s := fmt.Sprintf("out of storage space: the disk holding %s is full (%s free)", e.Path, byteSize(e.Free))
		if e.Detail != "" {
			s += ": " + e.Detail
		}
		return s
	}
	return "out of storage space"
}

// Is makes errors.Is(err, ErrNoSpace) true.
func (e *SpaceError) Is(target error) bool { return target == ErrNoSpace }

// byteSize writes n in binary units, e.g. "7.5 MiB (7864320 bytes)".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB (%d bytes)", float64(n)/float64(div), "KMGTPE"[exp], n)
}

// PartialError is a Publish of which only some messages were stored. An
// error from Pending.Wait that is not a PartialError means none were.
type PartialError struct {
	// Appended has one entry per message, in order; Seq is 0 for a message
	// that was not stored (when Err is ErrUnavailable: not known to be
	// stored). Stored messages are usually a prefix, but not always: a
	// later message may fit where an earlier one did not.
	Appended []Appended
	First    int   // index of the first message not stored
	Err      error // why it was not stored
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d of %d message(s) stored; message %d and %d other(s) not: %v",
		e.Stored(), len(e.Appended), e.First, len(e.Appended)-e.Stored()-1, e.Err)
}

func (e *PartialError) Unwrap() error { return e.Err }

// Stored counts the messages that were stored.
func (e *PartialError) Stored() int {
	n := 0
	for _, a := range e.Appended {
		if a.Seq != 0 {
			n++
		}
	}
	return n
}
