package pipeline_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/pipeline"
)

// Messages published straight into the input stream's subject (as a
// client of nats.listen can, with no schema check) become dead letters
// with their bytes, whether or not the pipeline has a where clause, and
// the pipeline goes on; a redrive fails them again, cleanly. An input
// whose dead letter would be too large for a message keeps its place in
// the input stream instead of its bytes.
func TestForeignInputsBecomeDeadLetters(t *testing.T) {
	for _, where := range []bool{true, false} {
		t.Run(fmt.Sprintf("where=%v", where), func(t *testing.T) {
			dir := t.TempDir()
			writeSchemas(t, dir)
			doc := fmt.Sprintf(project, dir)
			if !where {
				doc = strings.Replace(doc, "    where: 'event.kind == \"keep\"'\n", "", 1)
			}
			n := startDoc(t, doc, t.TempDir())
			defer stop(t, n)
			ctx := context.Background()
			raw := []byte("not json \xff\x00")
			object := []byte(`{"meta":{"id":"raw","dt":"2026-11-27T10:00:00Z"},"kind":"keep","n":1}`)
			produce(t, n, 1, 2, "") // seq 1
			if _, err := engine.Append(ctx, n.Engine, "in", []engine.Msg{{Data: raw}, {Data: object}, {Data: []byte(`[1,2]`)}}); err != nil {
				t.Fatal(err) // seq 2, 3, 4
			}
			// seq 5: an event whose dead letter cannot hold it (it is near the
			// 1 MiB limit of an event); "x" makes the function fail.
			big := fmt.Appendf(nil, `{"meta":{"id":"big","dt":"2026-11-27T10:00:00Z"},"kind":"keep","n":"x","pad":"%s"}`, strings.Repeat("p", 1<<20-200))
			if _, err := n.Streams.Produce(ctx, "in", [][]byte{big}); err != nil {
				t.Fatal(err)
			}
			produce(t, n, 2, 3, "") // seq 6
			s := waitDone(t, n, 6)
			if s.Failed != 4 || s.Processed != 2 {
				t.Fatalf("status: %+v", s)
			}
			if out := read(t, n, "out"); len(out) != 2 || !bytes.Contains(out[1], []byte(`"e2-d"`)) {
				t.Fatalf("outputs: %s", out)
			}
			dead := read(t, n, "double.errors")
			if len(dead) != 4 {
				t.Fatalf("%d dead letters: %s", len(dead), dead)
			}
			fs := make([]pipeline.Failure, len(dead))
			for i, d := range dead {
				if err := json.Unmarshal(d, &fs[i]); err != nil {
					t.Fatalf("dead letter %d: %v: %s", i, err, d)
				}
			}
			if f := fs[0]; !f.Input.Foreign || f.Input.Seq != 2 || string(f.Input.Event) != "null" ||
				f.Input.EventBase64 != base64.StdEncoding.EncodeToString(raw) || !strings.Contains(f.Error, "no Sluice-Id header") {
				t.Fatalf("raw bytes: %s", dead[0])
			}
			if f := fs[1]; !f.Input.Foreign || string(f.Input.Event) != string(object) || !strings.Contains(f.Error, "Sluice-Id") {
				t.Fatalf("object without headers: %s", dead[1])
			}
			if f := fs[2]; !f.Input.Foreign || string(f.Input.Event) != "[1,2]" {
				t.Fatalf("array: %s", dead[2])
			}
			if f := fs[3]; f.Input.Foreign || !f.Input.Truncated || string(f.Input.Event) != "null" || f.Input.Bytes != len(big) ||
				f.Input.ID != "big" || len(dead[3]) > 64<<10 {
				t.Fatalf("too large: %.500s", dead[3])
			}
			// A redrive fails every one again (the large one read back from
			// the input stream, where it still is) and keeps them.
			op := redrive(t, n.Pipelines, "double")
			if op.State != pipeline.OpSucceeded || op.Progress.Done != 4 || op.Progress.Failed != 4 || op.Progress.Succeeded != 0 {
				t.Fatalf("redrive: %+v", op)
			}
			if again := read(t, n, "double.errors"); len(again) != 4 {
				t.Fatalf("%d dead letters after the redrive", len(again))
			}
		})
	}
}
