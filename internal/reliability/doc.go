// Package reliability is the reliability suite of the flagship project
// (examples/wiki-images) run offline: kill -9 at random moments, feed
// faults, downstream faults, bad input and a memory soak. Its tests are
// behind the build tag "reliability" (CI runs them once, apart from the
// race-detector run of the other tests):
//
//	go test -tags reliability -count=1 -v ./internal/reliability/
//	SLUICE_SOAK=10m go test -tags reliability -count=1 -run Soak -timeout 30m -v ./internal/reliability/
//
// The figures of a run are in docs/RELIABILITY.md.
package reliability
