package files

import (
	"fmt"
	"strconv"
	"strings"
)

// seqDigits is the width of a sequence in an object's name: uint64's
// largest value has 20 digits, so names sort by sequence.
const seqDigits = 20

// dir is the folder of a partition's objects: "" or "<partition>/".
func dir(partition string) string {
	if partition == "" {
		return ""
	}
	return partition + "/"
}

// Key names the object holding sequences first to last of a partition.
func Key(partition string, first, last uint64, format string) string {
	return fmt.Sprintf("%s%020d-%020d.%s", dir(partition), first, last, format)
}

// startPrefix is what the names of a partition's objects starting at seq begin with.
func startPrefix(partition string, seq uint64) string {
	return fmt.Sprintf("%s%020d-", dir(partition), seq)
}

// ParseName reads an object's name (without its folder): the sequence
// range it holds and its format. Names of anything else (a temporary file,
// a file of someone else's) give ok false.
func ParseName(name string) (first, last uint64, format string, ok bool) {
	if len(name) < 2*seqDigits+3 || name[seqDigits] != '-' || name[2*seqDigits+1] != '.' {
		return 0, 0, "", false
	}
	format = name[2*seqDigits+2:]
	if format != NDJSON && format != NDJSONGzip && format != Parquet {
		return 0, 0, "", false
	}
	first, ok1 := parseSeq(name[:seqDigits])
	last, ok2 := parseSeq(name[seqDigits+1 : 2*seqDigits+1])
	if !ok1 || !ok2 || first == 0 || last < first {
		return 0, 0, "", false
	}
	return first, last, format, true
}

func parseSeq(s string) (uint64, bool) {
	if strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}
