package project_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/project"
)

// A definition as large as a request may be costs little: a stream's
// 4 MiB schema is read by encoding/json, other specs are bounded before
// YAML reads them. (Times are logged, not asserted: see BENCHMARKS.md.)
func TestLargeSpecsCostLittle(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	var props []string // 1,000 properties with long descriptions (a schema's width costs its compiler, not us)
	for i := range 1000 {
		props = append(props, fmt.Sprintf(`"p%d":{"type":"string","description":%q}`, i, strings.Repeat("d", 4<<10)))
	}
	big := `{"schema":{"type":"object","properties":{` + strings.Join(props, ",") + `}},"id":"/id","time":"/t"}`
	start := time.Now()
	if _, _, err := s.Put(ctx, catalog.Streams, "big", []byte(big), project.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("a stream with a %d-byte schema created in %v", len(big), time.Since(start))
	huge := `{"from":"in","where":"` + strings.Repeat("x", project.MaxSpecBytes) + `","function":{"name":"identity"},"to":[{"stream":"out"}]}`
	start = time.Now()
	_, _, err := s.Put(ctx, catalog.Pipelines, "p", []byte(huge), project.PutOptions{})
	var inv *project.Invalid
	if !errors.As(err, &inv) || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("a spec over the limit: %v", err)
	}
	t.Logf("a %d-byte pipeline spec refused in %v", len(huge), time.Since(start))
}
