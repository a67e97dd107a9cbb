//go:build reliability

package reliability

import (
	"bufio"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	wikiimages "github.com/sluice-dev/sluice/examples/wiki-images"
)

// exampleRoll is the files output's roll in examples/wiki-images/sluice.yaml.
const exampleRoll = "roll: {max_bytes: 64MiB, max_age: 5m}"

// projectWithRoll writes the flagship project to dir with its files
// output rolling as roll says, and returns the config's path.
func projectWithRoll(t *testing.T, dir, roll string) string {
	t.Helper()
	if err := os.CopyFS(dir, wikiimages.Project()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sluice.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), exampleRoll) {
		t.Fatalf("the example's files output does not say %q", exampleRoll)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), exampleRoll, roll, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// metric reads the sum of a Prometheus metric's samples from /metrics.
func metric(base, name string) (float64, bool) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sum, found := 0.0, false
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			f := strings.Fields(l)
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				sum, found = sum+v, true
			}
		}
	}
	return sum, found
}

var objectName = regexp.MustCompile(`^(\d{20})-(\d{20})\.ndjson$`)

// checkObjects checks the files output's folder against the output stream:
// every output event in exactly one object, in the folder of its event
// time's hour, objects whole (every line JSON, one per sequence of their
// range) and not overlapping. It returns the objects and the temporary
// files left by kills mid-write (not objects: sluice ignores them).
func checkObjects(t *testing.T, folder string, outputs []json.RawMessage) (objects, leftovers int) {
	t.Helper()
	type object struct {
		first, last uint64
		path        string
	}
	var objs []object
	seen := map[string]bool{}
	err := filepath.WalkDir(folder, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasSuffix(p, ".tmp") {
			leftovers++
			return nil
		}
		m := objectName.FindStringSubmatch(d.Name())
		if m == nil {
			t.Fatalf("%s is not an object", p)
		}
		first, _ := strconv.ParseUint(m[1], 10, 64)
		last, _ := strconv.ParseUint(m[2], 10, 64)
		objs = append(objs, object{first, last, p})
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 4<<20)
		n := uint64(0)
		for ; sc.Scan(); n++ {
			var o struct {
				Meta      struct{ ID string }
				EventTime string `json:"event_time"`
			}
			if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
				t.Fatalf("%s line %d: %v: a partial object", p, n+1, err)
			}
			if seen[o.Meta.ID] {
				t.Fatalf("%s: output %s is in two objects", p, o.Meta.ID)
			}
			seen[o.Meta.ID] = true
			et, err := time.Parse(time.RFC3339Nano, o.EventTime)
			if err != nil || filepath.Dir(p) != filepath.Join(folder, et.UTC().Format("2006/01/02/15")) {
				t.Fatalf("%s holds an event of %s", p, o.EventTime)
			}
		}
		if err := sc.Err(); err != nil {
			return err
		}
		if n != last-first+1 {
			t.Fatalf("%s holds %d events for %d sequences: a partial object", p, n, last-first+1)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].first < objs[j].first })
	for i := 1; i < len(objs); i++ {
		if objs[i].first <= objs[i-1].last {
			t.Fatalf("%s overlaps %s", objs[i].path, objs[i-1].path)
		}
	}
	if len(seen) != len(outputs) {
		t.Fatalf("%d output events in objects, %d in the stream", len(seen), len(outputs))
	}
	for _, raw := range outputs {
		if id := metaID(t, raw); !seen[id] {
			t.Fatalf("output %s is in no object", id)
		}
	}
	return len(objs), leftovers
}
