//go:build reliability

package reliability

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
)

// checkAcked checks that the input stream holds every acknowledged event
// exactly once, and nothing else.
func checkAcked(t *testing.T, inputs []json.RawMessage, p *producer) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]int{}
	for i, raw := range inputs {
		id := metaID(t, raw)
		if seen[id]++; seen[id] > 1 {
			t.Fatalf("input %d (%s) is in the input stream twice", i, id)
		}
		if !p.acked[id] {
			t.Fatalf("input %d (%s) is in the input stream, but was never acknowledged", i, id)
		}
	}
	for _, id := range p.order {
		if p.acked[id] && seen[id] == 0 {
			t.Fatalf("acknowledged event %s is not in the input stream (%d of %d acknowledged events are)", id, len(seen), len(p.acked))
		}
	}
}

// checkCopies checks that the output stream holds exactly one copy of
// each input (the identity function), and nothing else.
func checkCopies(t *testing.T, inputs, outputs []json.RawMessage) {
	t.Helper()
	in := map[string]bool{}
	for _, raw := range inputs {
		in[metaID(t, raw)] = true
	}
	seen := map[string]bool{}
	for i, raw := range outputs {
		id := metaID(t, raw)
		switch {
		case seen[id]:
			t.Fatalf("output %d (%s) is a duplicate", i, id)
		case !in[id]:
			t.Fatalf("output %d (%s) is the copy of no input", i, id)
		}
		seen[id] = true
	}
	if len(seen) != len(in) {
		for _, raw := range inputs {
			if id := metaID(t, raw); !seen[id] {
				t.Fatalf("%d outputs for %d inputs: input %s has none", len(seen), len(in), id)
			}
		}
	}
}

// checkVersions checks that the table holds exactly one version per
// output, under the output's key, with the output as its value and each
// from an input sequence of its own.
func checkVersions(t *testing.T, base string, outputs []json.RawMessage) (versions int) {
	t.Helper()
	want := map[string]map[string]bool{} // key -> ids of its outputs
	for _, raw := range outputs {
		var o struct {
			Meta struct{ ID string }
			K    string
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		if want[o.K] == nil {
			want[o.K] = map[string]bool{}
		}
		want[o.K][o.Meta.ID] = true
	}
	seqs := map[uint64]string{}
	for k := range clKeys {
		key := fmt.Sprintf("k%02d", k)
		var h struct {
			Versions []struct {
				Value  json.RawMessage
				Source struct{ Seq uint64 }
			}
		}
		if len(want[key]) > 0 {
			mustGet(t, base, "/v1/tables/"+clTable+"/keys/"+url.PathEscape(key)+"/history", &h)
		}
		got := map[string]bool{}
		for _, v := range h.Versions {
			id := metaID(t, v.Value)
			switch {
			case got[id]:
				t.Fatalf("key %s: two versions of output %s", key, id)
			case !want[key][id]:
				t.Fatalf("key %s: a version of %s, which is no output of that key", key, id)
			case seqs[v.Source.Seq] != "":
				t.Fatalf("key %s: output %s and %s are versions from the same input sequence %d", key, id, seqs[v.Source.Seq], v.Source.Seq)
			}
			got[id], seqs[v.Source.Seq] = true, id
		}
		if len(got) != len(want[key]) {
			t.Fatalf("key %s: %d versions for %d outputs", key, len(got), len(want[key]))
		}
		versions += len(got)
	}
	if versions != len(outputs) {
		t.Fatalf("%d versions for %d outputs", versions, len(outputs))
	}
	return versions
}
