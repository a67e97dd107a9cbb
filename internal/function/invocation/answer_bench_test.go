package invocation

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkDecodeAnswer reads the answer of an identity function for 100
// events of 1 KB, as Python's json.dumps writes it (with spaces).
func BenchmarkDecodeAnswer(b *testing.B) {
	var results []string
	for i := range 100 {
		results = append(results, fmt.Sprintf(`{"outputs": [{"meta": {"id": "e%07d", "dt": "2026-11-27T10:00:00Z"}, "n": %d, "pad": %q}]}`, i, i, strings.Repeat("x y", 313)))
	}
	body := []byte(`{"results": [` + strings.Join(results, ", ") + `]}`)
	b.SetBytes(int64(len(body)))
	for range b.N {
		res, err := decodeAnswer(body, 100)
		if err != nil || len(res) != 100 || !json.Valid(res[99].outputs[0]) {
			b.Fatal(err)
		}
	}
}
