// Package pipetest runs pipeline tests written as YAML next to a project's
// config (`sluice test DIR`, like `benthos test`): each case gives input
// events, optionally a mock for the function or the simulated MediaWiki
// API, and the outputs expected, as exact JSON or CEL conditions. A case
// runs the pipeline's own step (pipeline.Step: where, function, output
// checks), so it fails exactly when the pipeline would dead-letter: an
// output its outputs would refuse (the output stream's schema, id and
// time; a table's key and time; a SQL key) is that input's error. Inputs
// are checked against the input stream as a produce would: one it would
// refuse fails the case.
package pipetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"go.yaml.in/yaml/v3"
)

// File is one test file.
type File struct {
	// Pipeline is the name of the pipeline under test, from the project's config.
	Pipeline string `yaml:"pipeline"`
	// MediaWikiSim serves the function's MediaWiki API calls from the
	// simulator (internal/wikisim/mediawiki) on loopback, for every case.
	MediaWikiSim bool   `yaml:"mediawiki_sim"`
	Cases        []Case `yaml:"cases"`
	path         string
}

// Case is one test case.
type Case struct {
	Name  string `yaml:"name"`
	Input []any  `yaml:"input"`
	// Mock replaces the function: every input that passes where yields these outputs.
	Mock *Mock `yaml:"mock"`
	// Expect lists the outputs of all inputs together, in order; an empty
	// list expects none.
	Expect []Expect `yaml:"expect"`
}

// Mock is a stand-in function.
type Mock struct {
	Outputs []any  `yaml:"outputs"`
	Error   string `yaml:"error"` // fail every input with this error instead
}

// Expect is one expected output: exact JSON (with fields ignored), a CEL
// condition over `output`, or an expected error.
type Expect struct {
	JSON   any      `yaml:"json"`
	Ignore []string `yaml:"ignore"` // JSON pointers left out of the comparison
	CEL    string   `yaml:"cel"`
	Error  string   `yaml:"error"` // the input fails, with a message containing this
}

// Load reads every test file of a project: DIR/tests/*.yaml and DIR/*_test.yaml.
func Load(dir string) ([]File, error) {
	var paths []string
	for _, pattern := range []string{"tests/*.yaml", "tests/*.yml", "*_test.yaml"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, err
		}
		paths = append(paths, m...)
	}
	sort.Strings(paths)
	var out []File
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var f File
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if f.Pipeline == "" {
			return nil, fmt.Errorf("%s: pipeline: required", p)
		}
		for i, c := range f.Cases {
			for j, e := range c.Expect {
				n := 0
				for _, set := range []bool{e.JSON != nil, e.CEL != "", e.Error != ""} {
					if set {
						n++
					}
				}
				if n != 1 {
					return nil, fmt.Errorf("%s: cases[%d].expect[%d]: give one of json, cel or error", p, i, j)
				}
			}
		}
		f.path = p
		out = append(out, f)
	}
	return out, nil
}

// toJSON turns a value decoded from YAML into JSON.
func toJSON(v any) (json.RawMessage, error) {
	return json.Marshal(v)
}
