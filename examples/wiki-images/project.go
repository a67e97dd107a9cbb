// Package wikiimages is the flagship project, embedded: its config
// (sluice.yaml), schemas and pipeline tests, and the recorded real events
// that `sluice demo` replays offline (demo/, with their licences).
package wikiimages

import (
	"embed"
	"io/fs"
)

//go:embed sluice.yaml schemas tests
var project embed.FS

//go:embed demo
var recorded embed.FS

// Project holds sluice.yaml, schemas/ and tests/, as in this folder.
func Project() fs.FS { return project }

// RecordedFiles are the recorded event files that the demo replays, in
// order: NDJSON and a raw SSE capture, readable by eventstreams.Load.
var RecordedFiles = []string{"demo/enwiki-edits-2023-07-29.ndjson", "demo/capture-2022-12-11.sse"}

// Recorded holds demo/: the files named by RecordedFiles, their LICENSE
// files and a README naming their origins.
func Recorded() fs.FS { return recorded }
