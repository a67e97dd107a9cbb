// Package field names a problem of a definition (a sluice.yaml entry, an
// API body) by the path of the field at fault: "to[1].table: unknown
// table", "sse.url: want an http(s) URL". Every kind's checks report with
// it, so a file, the API and the CLI say the same.
package field

import (
	"fmt"
	"strings"
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
