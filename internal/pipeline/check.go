package pipeline

import "context"

// step is the pipeline's step, with its outputs' checks as they stand now
// (a stream's current schema), in the order it writes them.
func (r *runner) step(ctx context.Context) (Step, error) {
	checks, err := Checks(ctx, r.outputOrder())
	if err != nil {
		return Step{}, err
	}
	return Step{Where: r.spec.Where, Function: r.spec.Function, Checks: checks}, nil
}
