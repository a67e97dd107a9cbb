//go:build !linux

package node_test

import (
	"fmt"
	"os"
	"testing"
)

// The Cores part of the table benchmark holds processes to CPUs with
// sched_setaffinity: Linux only.

const tbChildEnv = "SLUICE_TB_CHILD"

func tbChild(string) int {
	fmt.Fprintln(os.Stderr, "table benchmark child: Linux only")
	return 1
}

func tbRunCores(b *testing.B, _ *tbData, _ string, _ []byte) {
	b.Skip("the server and the client are held to a CPU each with sched_setaffinity: Linux only")
}
