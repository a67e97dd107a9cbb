// Package reliability is the reliability suite of the flagship project
// (examples/wiki-images) run offline: kill -9 at random moments, feed
// faults, downstream faults, bad input and a memory soak; and of two nodes
// on a three-server JetStream cluster, their nodes and servers killed with
// SIGKILL in turn (TestClusterKill), with a benchmark of one node against
// a cluster (BenchmarkScaleOut). Its tests are behind the build tag
// "reliability" (CI runs them once, apart from the race-detector run of
// the other tests):
//
//	go test -tags reliability -count=1 -v ./internal/reliability/
//	SLUICE_SOAK=10m go test -tags reliability -count=1 -run Soak -timeout 30m -v ./internal/reliability/
//	go test -tags reliability -run '^$' -bench ScaleOut -benchtime 1x -count 3 ./internal/reliability/
//
// The figures of a run are in docs/RELIABILITY.md and docs/BENCHMARKS.md.
package reliability
