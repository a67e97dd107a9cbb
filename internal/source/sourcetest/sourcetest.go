// Package sourcetest is the conformance suite of source.Feed: every source
// kind runs it against a real feed (files on disk; for the outside world,
// a simulator on loopback).
package sourcetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-dev/sluice/internal/source"
)

// Subject is one feed under test and what it holds.
type Subject struct {
	Feed source.Feed
	// Events are the feed's events, in order: all of them if the feed is
	// finite; an endless feed has none after them for as long as the test
	// waits (a live feed with nothing new), though its connections end.
	Events [][]byte
	// Key tells events apart (an id); nil compares the data.
	Key func(data []byte) string
	// Finite: Run returns source.ErrFinished after the last event (a file
	// import); otherwise it runs until its ctx ends, reconnecting when a
	// connection ends.
	Finite bool
}

// Run runs the suite on the subject open returns, one per subtest; open
// registers its own cleanup.
func Run(t *testing.T, open func(t *testing.T) Subject) {
	tests := []struct {
		name string
		f    func(*testing.T, Subject)
	}{
		{"Finish", testFinish},
		{"Resume", testResume},
		{"CancelWhileDelivering", testCancelDelivering},
		{"CancelWhileWaiting", testCancelWaiting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, open(t)) })
	}
}

// quiet is how long a feed that sent everything is watched for more.
const quiet = 500 * time.Millisecond

// prompt is how long Run may take to return once its ctx ends.
const prompt = 2 * time.Second

// run is one Run of a feed in a goroutine, delivering on an unbuffered
// channel: an item received is one the caller stored.
type run struct {
	out    chan source.Item
	done   chan error
	cancel context.CancelFunc
	st     *source.Status
}

func start(t *testing.T, s Subject, from source.Resume) *run {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &run{out: make(chan source.Item), done: make(chan error, 1), cancel: cancel, st: &source.Status{}}
	go func() { r.done <- s.Feed.Run(ctx, from, r.out, r.st) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// next receives n items; it fails t if Run ends first or they take too long.
func (r *run) next(t *testing.T, n int) []source.Item {
	t.Helper()
	var got []source.Item
	timeout := time.After(30 * time.Second)
	for len(got) < n {
		select {
		case it := <-r.out:
			if it.Err != nil {
				t.Fatalf("item %d: unreadable: %v", len(got), it.Err)
			}
			got = append(got, it)
		case err := <-r.done:
			r.done <- err
			t.Fatalf("Run ended after %d of %d items: %v", len(got), n, err)
		case <-timeout:
			t.Fatalf("%d of %d items in 30s", len(got), n)
		}
	}
	return got
}

// end checks that nothing more comes: a finite feed returns ErrFinished
// at once, an endless one sends nothing for a while.
func (r *run) end(t *testing.T, s Subject) {
	t.Helper()
	wait := time.After(quiet)
	if s.Finite {
		wait = time.After(30 * time.Second)
	}
	select {
	case it := <-r.out:
		t.Fatalf("an item after the last event: %q at %q", it.Data, it.Position)
	case err := <-r.done:
		r.done <- err
		if !s.Finite {
			t.Fatalf("an endless feed ended: %v", err)
		}
		if !errors.Is(err, source.ErrFinished) {
			t.Fatalf("Run after the last event: %v, want source.ErrFinished", err)
		}
	case <-wait:
		if s.Finite {
			t.Fatal("a finite feed did not end")
		}
	}
}

// stop cancels Run and checks it returns promptly, with no error (or
// ErrFinished, if it had).
func (r *run) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil && !errors.Is(err, source.ErrFinished) {
			t.Errorf("Run after its ctx ended: %v, want nil", err)
		}
		r.done <- err
	case <-time.After(prompt):
		t.Fatalf("Run did not return within %v of its ctx ending", prompt)
	}
}

func keys(s Subject, data [][]byte) []string {
	out := make([]string, len(data))
	for i, d := range data {
		if s.Key != nil {
			out[i] = s.Key(d)
		} else {
			out[i] = string(d)
		}
	}
	return out
}

func same(t *testing.T, s Subject, got []source.Item, want [][]byte) {
	t.Helper()
	data := make([][]byte, len(got))
	for i, it := range got {
		data[i] = it.Data
		if it.Position == "" {
			t.Fatalf("item %d has no position", i)
		}
	}
	if g, w := keys(s, data), keys(s, want); !slices.Equal(g, w) {
		t.Fatalf("items\n%q\nwant\n%q", g, w)
	}
}

// testFinish: from the start, every event once, in order; then a finite
// feed ends with ErrFinished, an endless one sends nothing more, however
// often its connections end (Subjects of endless feeds end them).
func testFinish(t *testing.T, s Subject) {
	r := start(t, s, source.Resume{})
	same(t, s, r.next(t, len(s.Events)), s.Events)
	r.end(t, s)
	if !s.Finite && r.st.View().Reconnects == 0 {
		t.Error("no reconnect: the subject's connections do not end")
	}
}

// testResume: a feed stopped after some events and run again from the
// last one goes on with the next, nothing twice, nothing skipped, however
// many times it is stopped; run from the last event, it has nothing more.
func testResume(t *testing.T, s Subject) {
	n := len(s.Events)
	var got []source.Item
	from := source.Resume{}
	for _, upto := range []int{1, n / 3, n / 3, n - 1, n} { // n/3 twice: stopped with nothing read
		r := start(t, s, from)
		got = append(got, r.next(t, upto-len(got))...)
		r.stop(t)
		if len(got) > 0 {
			last := got[len(got)-1]
			from = source.Resume{Position: last.Position, Last: last.Data}
		}
	}
	same(t, s, got, s.Events)
	r := start(t, s, from)
	r.end(t, s)
}

// testCancelDelivering: the ctx ending while the feed waits for its
// items to be taken ends Run promptly, leaving no goroutine.
func testCancelDelivering(t *testing.T, s Subject) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	r := start(t, s, source.Resume{})
	r.next(t, 2)
	time.Sleep(50 * time.Millisecond) // the feed holds an item nobody takes
	r.stop(t)
}

// testCancelWaiting: the ctx ending while the feed has nothing to send
// ends Run promptly, leaving no goroutine.
func testCancelWaiting(t *testing.T, s Subject) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	r := start(t, s, source.Resume{})
	r.next(t, len(s.Events))
	time.Sleep(100 * time.Millisecond) // an endless feed waits for more
	r.stop(t)
}
