package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/pipeline"
)

// followEvery is how often a followed operation is asked for; printEvery
// bounds how often its progress is printed (when it moved).
const (
	followEvery = 500 * time.Millisecond
	printEvery  = 2 * time.Second
)

// runOperation POSTs path, which starts an operation (202), and unless
// noWait follows it, printing its progress to stderr, until it ends; then
// done reports the result. An operation that did not succeed is an error.
func runOperation(g *globals, cmd *cobra.Command, path string, noWait bool, done func(op pipeline.Operation) error) error {
	ctx, c := cmd.Context(), g.client()
	var op pipeline.Operation
	resp, err := c.do(ctx, "POST", path, "application/json", []byte("null"), &op)
	if err != nil {
		return err
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		loc = "/v1/operations/" + url.PathEscape(op.ID)
	}
	if noWait {
		if g.json {
			return printJSON(g, op)
		}
		fmt.Fprintf(g.out, "%s started: operation %s (follow it: GET %s; `sluice pipeline cancel %s` ends it)\n", what(op), op.ID, loc, op.Pipeline)
		return nil
	}
	fmt.Fprintf(g.errOut, "%s started: operation %s\n", what(op), op.ID)
	if op, err = followOperation(ctx, g, c, loc, op); err != nil {
		return err
	}
	if g.json {
		if err := printJSON(g, op); err != nil {
			return err
		}
	} else if op.State == pipeline.OpSucceeded {
		if err := done(op); err != nil {
			return err
		}
	}
	if op.State != pipeline.OpSucceeded {
		return fmt.Errorf("%s %s: %s", what(op), op.State, op.Error)
	}
	if op.Kind == pipeline.KindRedrive && op.Progress.Failed > 0 {
		return fmt.Errorf("%d dead letter(s) still fail; see the stream %s.errors", op.Progress.Failed, op.Pipeline)
	}
	return nil
}

// followOperation asks for the operation until it ends, printing its progress when
// it moved (at most every printEvery). If ctx ends first (^C), the
// operation goes on on the server.
func followOperation(ctx context.Context, g *globals, c *client, loc string, op pipeline.Operation) (pipeline.Operation, error) {
	t := time.NewTicker(followEvery)
	defer t.Stop()
	var printed time.Time
	last := progressText(op)
	for op.Running() {
		select {
		case <-ctx.Done():
			return op, fmt.Errorf("stopped following operation %s; it goes on (`sluice pipeline cancel %s` ends it): %w", op.ID, op.Pipeline, ctx.Err())
		case <-t.C:
		}
		var next pipeline.Operation
		if err := c.getJSON(ctx, loc, &next); err != nil {
			if errors.Is(err, context.Canceled) {
				continue // reported above, at the next turn
			}
			return op, err
		}
		op = next
		if line := progressText(op); line != last && (time.Since(printed) >= printEvery || !op.Running()) {
			fmt.Fprintln(g.errOut, line)
			last, printed = line, time.Now()
		}
	}
	return op, nil
}

func what(op pipeline.Operation) string {
	if op.Kind == pipeline.KindRebuild {
		return fmt.Sprintf("rebuild of table %s", op.Table)
	}
	return fmt.Sprintf("redrive of pipeline %s", op.Pipeline)
}

// progressText is one line of an operation's progress, e.g.
//
//	redrive of pipeline wiki: 120 of 1,000 dead letters read: 100 through, 20 failed again
func progressText(op pipeline.Operation) string {
	p := op.Progress
	of := ""
	if p.Total != nil {
		of = " of " + humanize.Comma(int64(*p.Total))
	}
	n := func(v uint64) string { return humanize.Comma(int64(v)) }
	if op.Kind == pipeline.KindRebuild {
		return fmt.Sprintf("%s: %s%s output messages read: %s written, %s refused", what(op), n(p.Done), of, n(p.Succeeded), n(p.Failed))
	}
	return fmt.Sprintf("%s: %s%s dead letters read: %s through, %s failed again", what(op), n(p.Done), of, n(p.Succeeded), n(p.Failed))
}

// cancelPipelineOperation cancels the operation a pipeline runs.
func cancelPipelineOperation(g *globals, cmd *cobra.Command, name string) error {
	ctx, c := cmd.Context(), g.client()
	var s pipeline.Status
	if err := c.getJSON(ctx, "/v1/pipelines/"+url.PathEscape(name), &s); err != nil {
		return err
	}
	if s.Operation == nil || !s.Operation.Running() {
		return fmt.Errorf("pipeline %s runs no operation", name)
	}
	var op pipeline.Operation
	if _, err := c.do(ctx, "DELETE", "/v1/operations/"+url.PathEscape(s.Operation.ID), "", nil, &op); err != nil {
		return err
	}
	if g.json {
		return printJSON(g, op)
	}
	fmt.Fprintf(g.out, "%s %s: %s\n", what(op), op.State, progressText(op))
	return nil
}
