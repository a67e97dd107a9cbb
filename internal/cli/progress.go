package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/source"
)

// DefaultProgress is how often serve and demo print their progress line.
const DefaultProgress = 5 * time.Second

// statusLister is what the progress line reads: the node's sources and
// pipelines.
type statusLister struct {
	sources   func() []source.StatusView
	pipelines func() []pipeline.Status
}

// progress prints one line every interval until ctx ends: events stored per
// source, inputs done per pipeline, dead letters, and each pipeline's lag
// in events and time. Counts are since the process started.
func progress(ctx context.Context, w io.Writer, every time.Duration, st statusLister) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var last progressCounts
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			srcs, pls := st.sources(), st.pipelines()
			if len(srcs) == 0 && len(pls) == 0 {
				continue // nothing runs: nothing to report
			}
			line, counts := progressLine(now, every, srcs, pls, last)
			last = counts
			fmt.Fprintln(w, line)
		}
	}
}

// progressCounts are the counters of the previous line, for the deltas.
type progressCounts struct {
	stored    map[string]uint64 // by source
	processed map[string]uint64 // by pipeline
}

// progressLine formats one progress line, e.g.
//
//	12:00:05 in: recentchange 12,345 (+250, 50/s) | processed: wiki_image_list 10,234 (+212, 42/s; 1,011 filtered out) | dead-lettered: 0 | lag: wiki_image_list 12 events, 400ms
func progressLine(now time.Time, every time.Duration, srcs []source.StatusView, pls []pipeline.Status, last progressCounts) (string, progressCounts) {
	counts := progressCounts{stored: map[string]uint64{}, processed: map[string]uint64{}}
	rate := func(d uint64) string { return humanize.Comma(int64(float64(d)/every.Seconds()+0.5)) + "/s" }
	var in, processed, lag []string
	var dead uint64
	var deadBy []string
	for _, s := range srcs {
		counts.stored[s.Name] = s.Stored
		d := s.Stored - min(last.stored[s.Name], s.Stored)
		in = append(in, fmt.Sprintf("%s %s (+%s, %s)", s.Name, humanize.Comma(int64(s.Stored)), humanize.Comma(int64(d)), rate(d)))
		if n := s.DeadLettered + s.Unreadable; n > 0 {
			dead += n
			deadBy = append(deadBy, fmt.Sprintf("%s %s", s.Name, humanize.Comma(int64(n))))
		}
		if s.State != source.Streaming && s.State != source.Finished {
			in[len(in)-1] += " " + s.State
		}
	}
	for _, p := range pls {
		counts.processed[p.Name] = p.Processed
		d := p.Processed - min(last.processed[p.Name], p.Processed)
		processed = append(processed, fmt.Sprintf("%s %s (+%s, %s; %s filtered out)", p.Name, humanize.Comma(int64(p.Processed)),
			humanize.Comma(int64(d)), rate(d), humanize.Comma(int64(p.Filtered))))
		if p.State != pipeline.Running {
			processed[len(processed)-1] += " " + p.State
		}
		if p.Failed > 0 {
			dead += p.Failed
			deadBy = append(deadBy, fmt.Sprintf("%s %s", p.Name, humanize.Comma(int64(p.Failed))))
		}
		l := fmt.Sprintf("%s %s events", p.Name, humanize.Comma(int64(p.LagEvents)))
		if p.LagSeconds != nil {
			l += ", " + (time.Duration(*p.LagSeconds * float64(time.Second))).Round(100*time.Millisecond).String()
		}
		lag = append(lag, l)
	}
	none := func(parts []string) string {
		if len(parts) == 0 {
			return "none"
		}
		return strings.Join(parts, ", ")
	}
	deadText := humanize.Comma(int64(dead))
	if len(deadBy) > 0 {
		deadText += " (" + strings.Join(deadBy, ", ") + ")"
	}
	return fmt.Sprintf("%s in: %s | processed: %s | dead-lettered: %s | lag: %s",
		now.Format("15:04:05"), none(in), none(processed), deadText, none(lag)), counts
}
