// Package field names a problem of a definition (a sluice.yaml entry, an
// API body) by the path of the field at fault: "to[1].table: unknown
// table", "sse.url: want an http(s) URL". Every kind's checks report with
// it, so a file, the API and the CLI say the same.
package field

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem of one field.
type Error struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Errors lists a definition's problems.
type Errors []Error

func (e Errors) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.Message
		if f.Path != "" {
			parts[i] = f.Path + ": " + f.Message
		}
	}
	return strings.Join(parts, "; ")
}

// Add records a problem at path.
func (e *Errors) Add(path, format string, args ...any) {
	*e = append(*e, Error{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Under puts a kind's problems under its path: Under("sse", {url: x}) is
// {sse.url: x}.
func (e *Errors) Under(path string, errs Errors) {
	for _, f := range errs {
		f.Path = Join(path, f.Path)
		*e = append(*e, f)
	}
}

// Err is nil when there is no problem.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// Join appends a field to a path ("" for the definition itself); an index
// ("[1]") joins without a dot.
func Join(p, f string) string {
	switch {
	case p == "":
		return f
	case f == "":
		return p
	case f[0] == '[':
		return p + f
	}
	return p + "." + f
}

// Decode reads a kind's settings (decoded from YAML or JSON: a mapping)
// into its config struct, as a file would (YAML field names, durations as "30s"); unknown fields are
// errors.
func Decode(settings any, into any) error {
	if settings == nil {
		return errors.New("want a mapping of settings")
	}
	if _, ok := settings.(map[string]any); !ok {
		return errors.New("want a mapping of settings")
	}
	raw, err := yaml.Marshal(settings)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) { // "line 1: field colour not found in type eventsource.Config"
			parts := make([]string, len(te.Errors))
			for i, e := range te.Errors {
				if _, rest, ok := strings.Cut(e, ": "); ok && strings.HasPrefix(e, "line ") {
					e = rest
				}
				if i := strings.Index(e, " in type "); i > 0 {
					e = e[:i]
				}
				parts[i] = e
			}
			return errors.New(strings.Join(parts, "; "))
		}
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}
