package file_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/source/file"
	"github.com/sluice-dev/sluice/internal/source/sourcetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// An NDJSON file (with a blank line) and a JSON array, read in order.
func TestConformance(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T) sourcetest.Subject {
		dir := t.TempDir()
		var events [][]byte
		var ndjson, array bytes.Buffer
		for i := range 12 {
			e := fmt.Appendf(nil, `{"meta":{"id":"e%d","dt":"2026-03-01T12:00:%02dZ"},"n":%d}`, i, i, i)
			events = append(events, e)
			if i < 7 {
				ndjson.Write(e)
				ndjson.WriteString("\n")
				if i == 3 {
					ndjson.WriteString("\n")
				}
				continue
			}
			if array.Len() == 0 {
				array.WriteString("[\n")
			} else {
				array.WriteString(",\n")
			}
			array.Write(e)
		}
		array.WriteString("\n]\n")
		paths := []string{filepath.Join(dir, "a.ndjson"), filepath.Join(dir, "b.json")}
		for i, b := range []*bytes.Buffer{&ndjson, &array} {
			if err := os.WriteFile(paths[i], b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return sourcetest.Subject{Feed: file.New(file.Config{Paths: paths}), Events: events, Finite: true}
	})
}
