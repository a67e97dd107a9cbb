package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pipeline"
)

// finish waits for an operation that started (or failed to) to end.
func finish(t *testing.T, m *pipeline.Manager, op pipeline.Operation, err error) pipeline.Operation {
	t.Helper()
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if op.State != pipeline.OpRunning || op.ID == "" {
		t.Fatalf("started: %+v", op)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	op, err = m.Wait(ctx, op.ID)
	if err != nil {
		t.Fatalf("operation %+v: %v", op, err)
	}
	return op
}

// redrive runs a pipeline's redrive to its end.
func redrive(t *testing.T, m *pipeline.Manager, name string) pipeline.Operation {
	t.Helper()
	op, err := m.StartRedrive(name)
	return finish(t, m, op, err)
}

// rebuild runs a table's rebuild to its end.
func rebuild(t *testing.T, m *pipeline.Manager, table string) pipeline.Operation {
	t.Helper()
	op, err := m.StartRebuild(table)
	return finish(t, m, op, err)
}
