package node

import (
	"context"
	"time"

	"github.com/sluice-dev/sluice/internal/history"
)

// History sampling: one point every 30 s, an hour kept.
const (
	historyEvery  = 30 * time.Second
	historyPoints = 120
)

// recordHistory samples the sources' and pipelines' lag and rate until ctx ends.
func (n *Node) recordHistory(ctx context.Context) {
	prev := map[string]uint64{} // sources: events stored at the sample before
	last := time.Now()
	n.History.Run(ctx, historyEvery, func(r *history.Recorder) {
		now := time.Now()
		dt := now.Sub(last).Seconds()
		last = now
		for _, s := range n.Sources.List() {
			p := history.Point{T: now, LagSeconds: s.LagSeconds}
			if before, ok := prev[s.Name]; ok && dt > 0 && s.Stored >= before {
				p.Rate = float64(s.Stored-before) / dt
			}
			prev[s.Name] = s.Stored
			r.Add("source/"+s.Name, p)
		}
		for _, s := range n.Pipelines.List() {
			lag := s.LagEvents
			r.Add("pipeline/"+s.Name, history.Point{T: now, LagEvents: &lag, LagSeconds: s.LagSeconds, Rate: s.Rate})
		}
	})
}
