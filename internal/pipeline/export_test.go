package pipeline

// SetRebuildHook makes m's rebuilds call f at their stages ("dropped",
// "created"); see Manager.rebuildHook.
func SetRebuildHook(m *Manager, f func(stage string)) { m.rebuildHook = f }
