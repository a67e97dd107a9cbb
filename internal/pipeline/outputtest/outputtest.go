// Package outputtest is the conformance suite of pipeline.Output: every
// output kind runs it against a real store (a stream on an embedded engine,
// a table, a SQL database).
//
// The suite writes outputs shaped as
//
//	{"meta":{"id":"o<n>","dt":"<RFC 3339 time>"},"k":"k<n>","n":<n>}
//
// with the ids and positions a pipeline derives from input n (one output
// per input), so an implementation's Subject configures its store for that
// shape: the id at /meta/id, the time at /meta/dt, a key from /k.
package outputtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pipeline"
)

// Subject is one output under test, on a store of its own.
type Subject struct {
	Output pipeline.Output
	// Stored reads back the suite's outputs the store holds, in the
	// store's own order (a stream's sequence; by position where the
	// store keeps no order of its own), one entry per copy stored.
	Stored func(ctx context.Context) ([]Stored, error)
	// Refused is an output document this output refuses: Write reports
	// it in invalid.
	Refused json.RawMessage
	// Atomic says a Write that returns an error stored nothing of its
	// batch (one transaction); otherwise it may have stored a part of it,
	// which writing the batch again completes.
	Atomic bool
}

// Stored is one copy of an output in the store: its position and its /k.
type Stored struct {
	Position string
	Key      string
}

func (s Stored) String() string { return s.Key + "@" + s.Position }

// Run runs the suite. open returns a new subject for one subtest, on a
// store no other subtest writes; it registers its own cleanup.
func Run(t *testing.T, open func(t *testing.T) Subject) {
	tests := []struct {
		name string
		f    func(*testing.T, Subject)
	}{
		{"Empty", testEmpty},
		{"Idempotent", testIdempotent},
		{"Redelivery", testRedelivery},
		{"Refused", testRefused},
		{"Canceled", testCanceled},
		{"CanceledDuring", testCanceledDuring},
		{"Check", testCheck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, open(t)) })
	}
}

// t0 is the time of output 0; output n is n seconds later.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Key is the /k of output n.
func Key(n int) string { return fmt.Sprintf("k%06d", n) }

// Position is the position a pipeline gives the first output of input n.
func Position(n int) string { return fmt.Sprintf("%020d:%06d", n, 0) }

// Out is the output of input n.
func Out(n int) pipeline.Out {
	return pipeline.Out{
		Data:     fmt.Appendf(nil, `{"meta":{"id":"o%d","dt":%q},"k":%q,"n":%d}`, n, t0.Add(time.Duration(n)*time.Second).Format(time.RFC3339), Key(n), n),
		ID:       fmt.Sprintf("outputtest:e%d:0", n),
		Position: Position(n),
	}
}

// outs are the outputs of inputs from..to-1.
func outs(from, to int) []pipeline.Out {
	var o []pipeline.Out
	for n := from; n < to; n++ {
		o = append(o, Out(n))
	}
	return o
}

func want(ns ...int) []Stored {
	w := []Stored{}
	for _, n := range ns {
		w = append(w, Stored{Position: Position(n), Key: Key(n)})
	}
	return w
}

func span(from, to int) []int {
	var ns []int
	for n := from; n < to; n++ {
		ns = append(ns, n)
	}
	return ns
}

// write writes a copy of batch (an output may change the Outs it is given)
// and fails t on an error or on an output refused.
func write(t *testing.T, s Subject, batch []pipeline.Out) {
	t.Helper()
	invalid, err := s.Output.Write(t.Context(), slices.Clone(batch))
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if len(invalid) > 0 {
		t.Fatalf("write: refused %v", invalid)
	}
}

func stored(t *testing.T, s Subject) []Stored {
	t.Helper()
	got, err := s.Stored(t.Context())
	if err != nil {
		t.Fatalf("stored: %v", err)
	}
	if got == nil {
		got = []Stored{}
	}
	return got
}

func check(t *testing.T, s Subject, w []Stored) {
	t.Helper()
	if got := stored(t, s); !slices.Equal(got, w) {
		t.Fatalf("stored\n%v\nwant\n%v", got, w)
	}
}

// testEmpty: an empty batch stores nothing and refuses nothing.
func testEmpty(t *testing.T, s Subject) {
	write(t, s, nil)
	write(t, s, []pipeline.Out{})
	check(t, s, want())
}

// testIdempotent: the same Out written twice, in one batch or in two, is
// stored once.
func testIdempotent(t *testing.T, s Subject) {
	write(t, s, outs(1, 6))
	write(t, s, outs(1, 6))
	for n := 1; n < 6; n++ {
		write(t, s, outs(n, n+1))
	}
	check(t, s, want(span(1, 6)...))
	write(t, s, append(outs(6, 8), outs(6, 8)...)) // one batch holding an output twice
	check(t, s, want(span(1, 8)...))
}

// testRedelivery: a batch written again after a part of it was stored (a
// crash between two writes, an output after this one that failed) stores
// each output once, in order, and goes on with the next batch.
func testRedelivery(t *testing.T, s Subject) {
	write(t, s, outs(1, 4))
	write(t, s, outs(1, 9))
	check(t, s, want(span(1, 9)...))
	write(t, s, outs(5, 12)) // a redelivery overlapping the new inputs
	write(t, s, outs(12, 14))
	check(t, s, want(span(1, 14)...))
}

// testRefused: an output the store refuses is reported by its index in the
// batch, the others are stored; the batch written again (its input comes
// again) reports it again and stores none of the others twice.
func testRefused(t *testing.T, s Subject) {
	batch := outs(1, 5)
	batch[2].Data = s.Refused
	for round := range 2 {
		invalid, err := s.Output.Write(t.Context(), slices.Clone(batch))
		if err != nil {
			t.Fatalf("write %d: %v", round, err)
		}
		if got := slices.Sorted(maps.Keys(invalid)); !slices.Equal(got, []int{2}) || len(invalid[2]) == 0 {
			t.Fatalf("write %d: invalid %v, want the violations of output 2 alone", round, invalid)
		}
		check(t, s, want(1, 2, 4))
	}
	write(t, s, outs(5, 7))
	check(t, s, want(1, 2, 4, 5, 6))
}

// prompt is how long a Write may take once its ctx is done.
const prompt = 5 * time.Second

// testCanceled: a Write with a ctx already done returns an error and
// stores nothing; the batch written again is stored once.
func testCanceled(t *testing.T, s Subject) {
	write(t, s, outs(1, 3))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	_, err := s.Output.Write(ctx, outs(3, 8))
	if err == nil {
		t.Fatal("write with a canceled ctx: no error")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("write with a canceled ctx: %v, want an error wrapping context.Canceled", err)
	}
	if d := time.Since(start); d > prompt {
		t.Errorf("write with a canceled ctx took %v", d)
	}
	check(t, s, want(1, 2))
	write(t, s, outs(3, 8))
	check(t, s, want(span(1, 8)...))
}

// testCanceledDuring: a ctx that ends while a large batch is written makes
// Write return promptly; whatever it stored is a part of the batch, each
// output at most once (nothing if the output is atomic), and writing the
// batch again completes it.
func testCanceledDuring(t *testing.T, s Subject) {
	const n = 1000
	batch := outs(1, n+1)
	for _, after := range []time.Duration{time.Millisecond, 10 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(t.Context(), after)
		start := time.Now()
		_, err := s.Output.Write(ctx, slices.Clone(batch))
		took := time.Since(start)
		cancel()
		if err != nil && took-after > prompt {
			t.Errorf("write canceled after %v returned %v later", after, took-after)
		}
		got := stored(t, s)
		if err == nil && len(got) != n {
			t.Fatalf("write canceled after %v: no error, %d of %d stored", after, len(got), n)
		}
		if err != nil && s.Atomic && len(got) != 0 {
			t.Fatalf("atomic write canceled after %v: %v, yet %d of %d stored", after, err, len(got), n)
		}
		seen := map[string]bool{}
		for _, g := range got {
			if seen[g.Position] || !strings.HasPrefix(g.Key, "k") {
				t.Fatalf("after a canceled write: %v stored twice, or not the suite's", g)
			}
			seen[g.Position] = true
		}
		t.Logf("canceled after %v: returned in %v (%v), %d of %d stored", after, took, err, len(got), n)
	}
	write(t, s, batch)
	check(t, s, want(span(1, n+1)...))
}

// testCheck: an output that tells what it would refuse before it writes
// (a pipeline.Checker) refuses what Write refuses, and nothing else.
func testCheck(t *testing.T, s Subject) {
	c, ok := s.Output.(pipeline.Checker)
	if !ok {
		t.Skip("not a pipeline.Checker")
	}
	chk, err := c.Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if chk.Output != s.Output.Name() {
		t.Errorf("the check names %q, the output is %q", chk.Output, s.Output.Name())
	}
	if vs := chk.Refuse(0, s.Refused); len(vs) == 0 {
		t.Errorf("the check takes %s, which Write refuses", s.Refused)
	}
	for n := range 5 {
		if vs := chk.Refuse(0, Out(n).Data); len(vs) > 0 {
			t.Errorf("the check refuses %s, which Write takes: %v", Out(n).Data, vs)
		}
	}
}
