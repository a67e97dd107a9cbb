package files

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/stream"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// stored reads the whole stream "out".
func stored(t testing.TB, svc *stream.Service) []event.Event {
	t.Helper()
	cur, err := svc.Open(context.Background(), "out", stream.Range{From: event.Position{Kind: event.Earliest}})
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	var out []event.Event
	for {
		e, err := cur.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
}

// model cuts the pipeline's events the way the sink must, without MaxAge:
// the keys of every object, the last one still open.
func model(t testing.TB, evs []event.Event, cfg Config) []string {
	t.Helper()
	part, err := ParsePartition(cfg.Partition)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var open *span
	flush := func() {
		keys = append(keys, Key(open.partition, open.first, open.last, cfg.withDefaults().Format))
		open = nil
	}
	for _, e := range evs {
		if e.Origin != "p" {
			continue
		}
		p := part.Render("out", e)
		if open != nil && open.partition != p {
			flush()
		}
		if open == nil {
			open = &span{partition: p, first: e.Seq}
		}
		open.last, open.bytes = e.Seq, open.bytes+int64(len(e.Data))+1
		if open.bytes >= cfg.MaxBytes || open.last-open.first+1 >= uint64(cfg.MaxEvents) {
			flush()
		}
	}
	if open != nil {
		flush()
	}
	return keys
}

// mixed produces n events one by one: every 7th from another origin,
// event times moving through hours 10, 11, 12 and back to 11.
func mixed(t testing.TB, svc *stream.Service, n int) {
	t.Helper()
	for i := range n {
		hour := []int{0, 1, 2, 1}[i*4/n]
		origin := "p"
		if i%7 == 3 {
			origin = "other"
		}
		produce(t, svc, origin, ev(i, t0.Add(time.Duration(hour)*time.Hour+time.Duration(i)*time.Second)))
	}
}

// union reads every object under dir back and checks that together they
// hold each of the pipeline's events exactly once, in order.
func union(t testing.TB, dir string, evs []event.Event) {
	t.Helper()
	objs := map[string][]byte{}
	for _, name := range objects(t, dir) {
		objs[name] = readFile(t, filepath.Join(dir, name))
	}
	unionOf(t, objs, evs)
}

// unionOf checks objects (by key) as union does.
func unionOf(t testing.TB, objs map[string][]byte, evs []event.Event) {
	t.Helper()
	var names []string
	for name := range objs {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { // by first sequence, whatever the folder
		_, a, _, _ := parseKey(names[i])
		_, b, _, _ := parseKey(names[j])
		return a < b
	})
	var got []string
	var end uint64
	for _, name := range names {
		_, first, last, _ := parseKey(name)
		if first <= end {
			t.Fatalf("%s overlaps an object ending at %d", name, end)
		}
		end = last
		for _, m := range decode(t, name, objs[name]) {
			meta, _ := m["meta"].(map[string]any)
			if meta == nil { // parquet: meta is JSON text
				_ = json.Unmarshal([]byte(m["meta"].(string)), &meta)
			}
			got = append(got, meta["id"].(string))
		}
	}
	var want []string
	for _, e := range evs {
		if e.Origin == "p" {
			want = append(want, e.ID)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("objects hold %d events, want %d exactly once in order\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
}

// TestCuts checks where objects end: partition changes, MaxBytes and
// MaxEvents, as a model computes from the events alone; the open object
// is written when it reaches MaxAge; and events of others are left out.
func TestCuts(t *testing.T) {
	svc := newService(t)
	mixed(t, svc, 400)
	evs := stored(t, svc)
	dir := t.TempDir()
	cfg := Config{URL: "file://" + dir + "?prefix=out/", Partition: `{{.EventTime.Format "2006/01/02/15"}}`,
		MaxBytes: 5000, MaxEvents: 30, MaxAge: time.Hour}
	want := model(t, evs, cfg)
	if len(want) < 10 {
		t.Fatalf("the model gives %d objects: not a useful test", len(want))
	}
	s, stop := start(t, svc, cfg)
	_, lastFirst, lastLast, _ := parseKey(want[len(want)-1])
	waitFor(t, "all but the last object", func() bool {
		st := s.Status()
		return st.Open != nil && st.Open.First == lastFirst && st.Open.Last == lastLast
	})
	if got := objects(t, filepath.Join(dir, "out")); !reflect.DeepEqual(got, sorted(want[:len(want)-1])) {
		t.Fatalf("objects\n got %v\nwant %v", got, want[:len(want)-1])
	}
	stop()

	// Started again with a short MaxAge, the open object is written once
	// it is old enough, without another event.
	cfg.MaxAge = 100 * time.Millisecond
	s, _ = start(t, svc, cfg)
	waitFor(t, "the last object", func() bool { return s.Status().Position == uint64(len(evs)) })
	if got := objects(t, filepath.Join(dir, "out")); !reflect.DeepEqual(got, sorted(want)) {
		t.Fatalf("objects\n got %v\nwant %v", got, want)
	}
	union(t, filepath.Join(dir, "out"), evs)
	if st := s.Status(); st.Objects != 1 || st.Skipped != 0 || st.LastCommitted != lastLast || st.Errors != 0 {
		t.Fatalf("status after restart: %+v", st)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// parseKey splits a key into its folder, range and format.
func parseKey(key string) (partition string, first, last uint64, format string) {
	partition, name := filepath.Split(key)
	first, last, format, _ = ParseName(name)
	return filepath.Clean(partition), first, last, format
}

// TestReplaySkipsCommittedObjects: a consumer whose deliveries were never
// acknowledged (a crash just after each commit) reads everything again;
// every object is found committed and none is written twice.
func TestReplaySkipsCommittedObjects(t *testing.T) {
	svc := newService(t)
	mixed(t, svc, 200)
	evs := stored(t, svc)
	dir := t.TempDir()
	cfg := Config{URL: "file://" + dir, Partition: `{{.EventTime.Format "2006-01-02T15"}}`, Format: NDJSONGzip,
		MaxBytes: 4000, MaxEvents: 1000, MaxAge: 100 * time.Millisecond}
	s, stop := start(t, svc, cfg)
	waitFor(t, "every object", func() bool { return s.Status().Position == uint64(len(evs)) })
	stop()
	before := objects(t, dir)
	stat := map[string]time.Time{}
	for _, name := range before {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		stat[name] = fi.ModTime()
	}
	cons := svc.Engine().(engine.Consumers)
	if err := cons.DeleteConsumer(context.Background(), "out", s.name); err != nil {
		t.Fatal(err)
	}
	s, _ = start(t, svc, cfg)
	waitFor(t, "the replay", func() bool { return s.Status().Position == uint64(len(evs)) })
	if st := s.Status(); st.Skipped != uint64(len(before)) || st.Objects != 0 {
		t.Fatalf("replay: skipped %d of %d objects, wrote %d", st.Skipped, len(before), st.Objects)
	}
	after := objects(t, dir)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("objects changed:\n%v\n%v", before, after)
	}
	for _, name := range after {
		if fi, _ := os.Stat(filepath.Join(dir, name)); !fi.ModTime().Equal(stat[name]) {
			t.Fatalf("%s was written again", name)
		}
	}
	union(t, dir, evs)
}

// TestOthersAreAcknowledged: a stream holding only events of others moves
// the sink's position without writing anything.
func TestOthersAreAcknowledged(t *testing.T) {
	svc := newService(t)
	for i := range 20 {
		produce(t, svc, "other", ev(i, t0))
	}
	dir := t.TempDir()
	s, _ := start(t, svc, Config{URL: "file://" + dir})
	waitFor(t, "position 20", func() bool { return s.Status().Position == 20 })
	if got := objects(t, dir); len(got) != 0 {
		t.Fatalf("objects: %v", got)
	}
}

// TestRollByAgeWhenIdle: an object is written MaxAge after its first
// event even when no other event comes.
func TestRollByAgeWhenIdle(t *testing.T) {
	svc := newService(t)
	dir := t.TempDir()
	s, _ := start(t, svc, Config{URL: "file://" + dir, MaxAge: 300 * time.Millisecond})
	var raws [][]byte
	for i := range 5 {
		raws = append(raws, ev(i, t0))
	}
	produce(t, svc, "p", raws...)
	waitFor(t, "the first object", func() bool { return s.Status().Objects == 1 })
	produce(t, svc, "p", ev(5, t0), ev(6, t0), ev(7, t0))
	waitFor(t, "the second object", func() bool { st := s.Status(); return st.Objects == 2 && st.Position == 8 })
	want := []string{Key("", 1, 5, NDJSON), Key("", 6, 8, NDJSON)}
	if got := objects(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("objects %v, want %v", got, want)
	}
	st := s.Status()
	if st.Events != 8 || st.Position != 8 || st.LastObject != want[1] || st.LastCommitTime == nil || st.State != Running {
		t.Fatalf("status: %+v", st)
	}
}

// TestSkipAcknowledgesOnlyPastTheObject: while the deliveries of an object
// committed before are skipped, nothing is acknowledged until its last
// sequence; a crash in the middle of the skip then replays from the
// object's start and finds it again, instead of writing its end twice.
func TestSkipAcknowledgesOnlyPastTheObject(t *testing.T) {
	svc := newService(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, Key("", 1, 3000, NDJSON)), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), svc, Config{URL: "file://" + dir}, Options{Pipeline: "p", Stream: "out"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var acked []uint64
	r := &roller{s: s}
	feed := func(from, to uint64) {
		for seq := from; seq <= to; seq++ {
			h := map[string]string{"Sluice-Origin": "p", "Sluice-Id": fmt.Sprint(seq), "Sluice-Time": "1", "Sluice-Mark": "1"}
			d := engine.NewDelivery(engine.Stored{Seq: seq, Header: h, Data: []byte(`{}`)}, 1,
				func(context.Context) error { acked = append(acked, seq); return nil })
			if err := r.add(context.Background(), d); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.ackIdle(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	feed(1, 500)
	feed(501, 1000)
	if len(acked) != 0 || s.Status().Skipped != 1 {
		t.Fatalf("acknowledged %v in the middle of a skipped object (skipped %d)", acked, s.Status().Skipped)
	}
	feed(1001, 3000)
	if !reflect.DeepEqual(acked, []uint64{3000}) {
		t.Fatalf("acknowledged %v, want [3000]", acked)
	}
	feed(3001, 3002)
	if r.open == nil || r.open.first != 3001 || len(acked) != 1 {
		t.Fatalf("after the object: open %+v, acknowledged %v", r.open, acked)
	}
}

// TestForeignMessagesArePassedOver: messages published straight into the
// stream's subject, even with a forged origin header, are never written
// into objects (as garbage, or as a Parquet file that fails for good);
// they are counted, and the events around them are written.
func TestForeignMessagesArePassedOver(t *testing.T) {
	for _, format := range []string{NDJSON, Parquet} {
		t.Run(format, func(t *testing.T) {
			svc := newService(t)
			produce(t, svc, "p", ev(0, t0), ev(1, t0))
			forged := map[string]string{"Sluice-Origin": "p"}
			if _, err := engine.Append(context.Background(), svc.Engine(), "out", []engine.Msg{
				{Origin: "p", Header: forged, Data: []byte("not json \xff")},
				{Origin: "p", Header: forged, Data: ev(99, t0)},
			}); err != nil {
				t.Fatal(err)
			}
			produce(t, svc, "p", ev(2, t0))
			dir := t.TempDir()
			s, _ := start(t, svc, Config{URL: "file://" + dir, Format: format, MaxAge: 100 * time.Millisecond})
			waitFor(t, "position 5", func() bool { return s.Status().Position == 5 })
			var evs []event.Event
			for _, e := range stored(t, svc) {
				if stream.NotEvent(e) == nil {
					evs = append(evs, e)
				}
			}
			if len(evs) != 3 {
				t.Fatalf("%d events", len(evs))
			}
			union(t, dir, evs)
			if st := s.Status(); st.Foreign != 2 || st.Events != 3 || st.Errors != 0 {
				t.Fatalf("status: %+v", st)
			}
		})
	}
}
