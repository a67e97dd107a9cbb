package pipeline

import "context"

// SetRebuildHook makes m's rebuilds call f at their stages ("dropped",
// "created"); see Manager.rebuildHook.
func SetRebuildHook(m *Manager, f func(stage string)) { m.rebuildHook = f }

// LoadStreamOutput reads where o left off, as a run's start does.
func LoadStreamOutput(ctx context.Context, o *StreamOutput) error { return o.load(ctx) }

// WrittenOf is the newest position o knows it wrote.
func WrittenOf(o *StreamOutput) string { return o.written }
