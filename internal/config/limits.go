package config

// ProduceLimits bound what one produce request may cost; they sit under
// limits: beside the byte limits.
type ProduceLimits struct {
	// MaxEventsPerRequest is the most events one produce body may hold
	// (default 100000); a longer body is refused whole with 413.
	MaxEventsPerRequest int `yaml:"max_events_per_request"`
	// MaxNumberLength is the longest number in an event, in characters
	// (default 100); a longer one refuses its event (rule sluice.number).
	MaxNumberLength int `yaml:"max_number_length"`
	// MaxInvalidListed is how many refused events a produce answer lists
	// (default 100); invalid_count counts them all.
	MaxInvalidListed int `yaml:"max_invalid_listed"`
}

func (l *ProduceLimits) defaults() {
	if l.MaxEventsPerRequest == 0 {
		l.MaxEventsPerRequest = 100_000
	}
	if l.MaxNumberLength == 0 {
		l.MaxNumberLength = 100
	}
	if l.MaxInvalidListed == 0 {
		l.MaxInvalidListed = 100
	}
}

func (l ProduceLimits) validate(add func(path, format string, args ...any)) {
	if l.MaxEventsPerRequest < 1 {
		add("limits.max_events_per_request", "want at least 1, got %d", l.MaxEventsPerRequest)
	}
	if l.MaxNumberLength < 20 || l.MaxNumberLength > 10_000 {
		add("limits.max_number_length", "want 20 to 10000 characters, got %d", l.MaxNumberLength)
	}
	if l.MaxInvalidListed < 1 || l.MaxInvalidListed > 10_000 {
		add("limits.max_invalid_listed", "want 1 to 10000, got %d", l.MaxInvalidListed)
	}
}
