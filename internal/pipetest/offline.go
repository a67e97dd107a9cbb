package pipetest

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/pipeline"
)

// noteOffline says the one check a test cannot make as the node would: a
// node checks against a stream's current schema, which stays a later
// version than the config's when the stream was changed after (node.Start
// warns of it, and keeps the later one). A test has only the project's
// files, so it says which streams it took from them rather than pass
// silently on a schema production no longer has.
func noteOffline(w io.Writer, cfg *config.Config, files []File) {
	seen := map[string]bool{}
	for _, f := range files {
		pl := cfg.Pipelines[f.Pipeline]
		seen[pl.From] = true
		for _, o := range pl.To {
			if kind, _ := o.Kind(); kind == pipeline.StreamKind.Name {
				seen[o.Stream()] = true
			}
		}
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "checked against the schemas in this project's files (streams %s); "+
		"a node holding a later version of a stream's schema checks against that one\n", strings.Join(names, ", "))
}
