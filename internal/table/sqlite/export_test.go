package sqlite

// Checkpoints is how many background checkpoints have succeeded.
func (s *Store) Checkpoints() int64 { return s.runs.Load() }
