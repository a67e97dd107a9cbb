//go:build unix

package process

import (
	"testing"
	"time"
)

// TestOneInvocationAtATime: a process holds one invocation at a time. A
// second request for one while another waits is refused, and a call is
// never put in place of one held (before, two requests at once each took a
// call, the second replaced the first, and the first was never answered).
func TestOneInvocationAtATime(t *testing.T) {
	p := &Pool{cfg: Config{timeout: time.Minute}, changed: make(chan struct{})}
	g := &generation{in: &instance{pool: p}, exited: make(chan struct{})}
	if !g.waitNext() {
		t.Fatal("the first request for an invocation was refused")
	}
	if g.waitNext() {
		t.Fatal("a second request while the first waits was not refused")
	}
	c1, c2 := &call{id: "1", done: make(chan outcome, 1)}, &call{id: "2", done: make(chan outcome, 1)}
	if !g.hold(c1) {
		t.Fatal("the first call was not held")
	}
	if g.hold(c2) {
		t.Fatal("a second call was held in place of the first")
	}
	if held := g.release("1"); held != c1 {
		t.Fatalf("the held call is %v, want the first", held)
	}
	g.doneNext()
	if !g.waitNext() {
		t.Fatal("a request after the first ended was refused")
	}
}
