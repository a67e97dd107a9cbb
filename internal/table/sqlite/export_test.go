package sqlite

// CompleteCheckpoints is how many background checkpoints copied the whole WAL.
func (s *Store) CompleteCheckpoints() int64 { return s.complete.Load() }
