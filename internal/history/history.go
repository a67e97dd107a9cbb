// Package history keeps the recent past of a few numbers per source and
// pipeline (lag, rate) in memory, sampled at a fixed interval, so the UI
// can draw the last hour. It is per node and starts empty after a restart:
// these are observations, not state (the state itself lives in JetStream).
package history

import (
	"context"
	"sync"
	"time"
)

// Point is one sample.
type Point struct {
	T         time.Time `json:"t"`
	LagEvents *uint64   `json:"lag_events,omitempty"`
	// LagSeconds is the lag in time as the source or pipeline reported it
	// then: for a pipeline, how long its oldest waiting input had waited
	// (0 when none did); for a source, how late its newest event came.
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	Rate       float64  `json:"rate"` // events per second since the sample before
}

// Recorder holds at most Max points per series, oldest first.
type Recorder struct {
	max    int
	mu     sync.Mutex
	series map[string][]Point
}

// New keeps max points per series (e.g. 120 samples 30 s apart: an hour).
func New(max int) *Recorder { return &Recorder{max: max, series: map[string][]Point{}} }

// Add appends a point to a series, dropping the oldest past max.
func (r *Recorder) Add(name string, p Point) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := append(r.series[name], p)
	if len(s) > r.max {
		s = append(s[:0], s[len(s)-r.max:]...)
	}
	r.series[name] = s
}

// Get returns a copy of a series (nil if it has none).
func (r *Recorder) Get(name string) []Point {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Point(nil), r.series[name]...)
}

// Run calls sample every interval until ctx ends.
func (r *Recorder) Run(ctx context.Context, every time.Duration, sample func(r *Recorder)) {
	t := time.NewTicker(every)
	defer t.Stop()
	sample(r)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sample(r)
		}
	}
}
