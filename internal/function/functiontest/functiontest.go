// Package functiontest is the conformance suite of function.Function: every
// function kind runs it on a real function (a real process, a real HTTP
// endpoint on loopback; a simulator only for the outside world).
package functiontest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/function"
)

// Subject is one function under test and the inputs it knows.
type Subject struct {
	Function function.Function
	// Event is input n, which the function answers; Check reports
	// whether outputs are what it gives for input n (and not for another).
	Event func(n int) json.RawMessage
	Check func(n int, outputs []json.RawMessage) error
	// Failing, if set, is input n that the function fails on its own: an
	// error for that event alone.
	Failing func(n int) json.RawMessage
	// Slow, if set, is input n that the function answers only after much
	// longer than a test waits (a hanging process, a slow endpoint): for a
	// ctx that ends during a call.
	Slow func(n int) json.RawMessage
}

// Run runs the suite on the subject open returns, one per subtest; open
// registers its own cleanup.
func Run(t *testing.T, open func(t *testing.T) Subject) {
	tests := []struct {
		name string
		f    func(*testing.T, Subject)
	}{
		{"Empty", testEmpty},
		{"One", func(t *testing.T, s Subject) { testBatch(t, s, 1) }},
		{"Many", func(t *testing.T, s Subject) { testBatch(t, s, 50) }},
		{"EventError", testEventError},
		{"Canceled", testCanceled},
		{"CanceledDuring", testCanceledDuring},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, open(t)) })
	}
}

// N is the input {"n": n}: a Subject's Event for functions that give an
// event back (identity, jq, the test processes and endpoints).
func N(n int) json.RawMessage { return fmt.Appendf(nil, `{"n":%d}`, n) }

// CheckN checks that outputs are one event whose "n" is n.
func CheckN(n int, outputs []json.RawMessage) error {
	if len(outputs) != 1 {
		return fmt.Errorf("%d outputs, want 1", len(outputs))
	}
	var o struct{ N *int }
	if err := json.Unmarshal(outputs[0], &o); err != nil || o.N == nil || *o.N != n {
		return fmt.Errorf("output %s, want n %d (%v)", outputs[0], n, err)
	}
	return nil
}

// prompt is how long a call may take once its ctx is done.
const prompt = 2 * time.Second

func call(ctx context.Context, t *testing.T, s Subject, events []json.RawMessage) []function.Result {
	t.Helper()
	res := s.Function.Call(ctx, events)
	if len(res) != len(events) {
		t.Fatalf("%d results for %d events", len(res), len(events))
	}
	return res
}

// check checks that result i answers input ns[i].
func check(t *testing.T, s Subject, res []function.Result, ns []int) {
	t.Helper()
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("result %d (input %d): %v", i, ns[i], r.Err)
		}
		if err := s.Check(ns[i], r.Outputs); err != nil {
			t.Fatalf("result %d (input %d): %v", i, ns[i], err)
		}
	}
}

func events(s Subject, ns []int) []json.RawMessage {
	out := make([]json.RawMessage, len(ns))
	for i, n := range ns {
		out[i] = s.Event(n)
	}
	return out
}

func span(from, to int) []int {
	var ns []int
	for n := from; n < to; n++ {
		ns = append(ns, n)
	}
	return ns
}

// testEmpty: no events, no results, and the function still answers after.
func testEmpty(t *testing.T, s Subject) {
	for _, in := range [][]json.RawMessage{nil, {}} {
		if res := s.Function.Call(t.Context(), in); len(res) != 0 {
			t.Fatalf("%d results for no events", len(res))
		}
	}
	check(t, s, call(t.Context(), t, s, events(s, []int{7})), []int{7})
}

// testBatch: one result per input, in order, each the input's own.
func testBatch(t *testing.T, s Subject, size int) {
	ns := make([]int, size)
	for i := range ns {
		ns[i] = (i*37 + 11) % 1000 // not sorted: order is the batch's, not the inputs'
	}
	check(t, s, call(t.Context(), t, s, events(s, ns)), ns)
}

// testEventError: an input the function fails on gets the error; the
// others of its batch, before and after it, get their outputs.
func testEventError(t *testing.T, s Subject) {
	if s.Failing == nil {
		t.Skip("the function fails no event on its own")
	}
	ns := span(0, 20)
	in := events(s, ns)
	bad := map[int]bool{0: true, 7: true, 19: true}
	for i := range bad {
		in[i] = s.Failing(ns[i])
	}
	res := call(t.Context(), t, s, in)
	for i, r := range res {
		switch {
		case bad[i] && r.Err == nil:
			t.Errorf("result %d: no error, outputs %s", i, r.Outputs)
		case bad[i] && len(r.Outputs) > 0:
			t.Errorf("result %d: an error (%v) and outputs %s", i, r.Err, r.Outputs)
		case bad[i] && errors.Is(r.Err, function.ErrUnavailable):
			t.Errorf("result %d: %v: an event's error is not the function being unavailable", i, r.Err)
		case !bad[i] && r.Err != nil:
			t.Errorf("result %d: %v, yet only 0, 7 and 19 fail", i, r.Err)
		case !bad[i]:
			if err := s.Check(ns[i], r.Outputs); err != nil {
				t.Errorf("result %d: %v", i, err)
			}
		}
	}
}

// testCanceled: a call with a ctx already done returns at once, every
// result carrying ctx's error; the function answers the next call.
func testCanceled(t *testing.T, s Subject) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	res := call(ctx, t, s, events(s, span(0, 10)))
	if d := time.Since(start); d > prompt {
		t.Errorf("a call with a canceled ctx took %v", d)
	}
	for i, r := range res {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("result %d: %v (outputs %s), want context.Canceled", i, r.Err, r.Outputs)
		}
	}
	check(t, s, call(t.Context(), t, s, events(s, span(0, 3))), span(0, 3))
}

// testCanceledDuring: a ctx that ends while the function works on a slow
// input ends the call promptly; the results of the inputs it did not
// finish carry ctx's error (an input it finished may have its outputs);
// the function answers the next call.
func testCanceledDuring(t *testing.T, s Subject) {
	if s.Slow == nil {
		t.Skip("the function has no slow input")
	}
	ns := span(0, 5)
	in := events(s, ns)
	in[2] = s.Slow(2)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := call(ctx, t, s, in)
	if d := time.Since(start); d > 300*time.Millisecond+prompt {
		t.Errorf("a call whose ctx ended after 300ms took %v", d)
	}
	if !errors.Is(res[2].Err, context.DeadlineExceeded) {
		t.Errorf("the slow input: %v (outputs %s), want context.DeadlineExceeded", res[2].Err, res[2].Outputs)
	}
	for i, r := range res {
		if r.Err == nil {
			if err := s.Check(ns[i], r.Outputs); err != nil {
				t.Errorf("result %d: %v", i, err)
			}
		} else if !errors.Is(r.Err, context.DeadlineExceeded) {
			t.Errorf("result %d: %v, want outputs or context.DeadlineExceeded", i, r.Err)
		}
	}
	check(t, s, call(t.Context(), t, s, events(s, span(10, 13))), span(10, 13))
}

// testConcurrent: calls from several goroutines at once each get their
// own results (run with -race).
func testConcurrent(t *testing.T, s Subject) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			ns := span(g*100, g*100+1+g*3) // batches of different sizes
			res := s.Function.Call(t.Context(), events(s, ns))
			if len(res) != len(ns) {
				t.Errorf("goroutine %d: %d results for %d events", g, len(res), len(ns))
				return
			}
			for i, r := range res {
				if r.Err != nil {
					t.Errorf("goroutine %d, result %d: %v", g, i, r.Err)
				} else if err := s.Check(ns[i], r.Outputs); err != nil {
					t.Errorf("goroutine %d, result %d: %v", g, i, err)
				}
			}
		})
	}
	wg.Wait()
}
