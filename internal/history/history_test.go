package history

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestKeepsTheNewestMax(t *testing.T) {
	r := New(3)
	base := time.Unix(1000, 0)
	for i := range 5 {
		r.Add("p", Point{T: base.Add(time.Duration(i) * time.Second), Rate: float64(i)})
	}
	got := r.Get("p")
	if len(got) != 3 || got[0].Rate != 2 || got[2].Rate != 4 {
		t.Fatalf("got %+v", got)
	}
	got[0].Rate = 99 // a copy
	if r.Get("p")[0].Rate != 2 {
		t.Fatal("Get shares its slice")
	}
	if r.Get("none") != nil {
		t.Fatal("an unknown series has points")
	}
}

func TestRunSamplesUntilCancelled(t *testing.T) {
	r := New(10)
	var n atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx, 5*time.Millisecond, func(r *Recorder) { n.Add(1) })
	}()
	for n.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
}
