package function

import "errors"

// ErrUnavailable marks an error that is not the events' fault: the
// function cannot run now (its process does not start, its endpoint does
// not answer). A pipeline does not dead-letter such events: it retries the
// batch later, as when an output is down.
var ErrUnavailable = errors.New("function unavailable")

// Unavailable returns the first error of results that is ErrUnavailable, or nil.
func Unavailable(results []Result) error {
	for _, r := range results {
		if r.Err != nil && errors.Is(r.Err, ErrUnavailable) {
			return r.Err
		}
	}
	return nil
}
