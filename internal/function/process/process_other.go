//go:build !unix

package process

import (
	"errors"

	"github.com/sluice-dev/sluice/internal/function/invocation"
)

// Kind registers the kind as "process"; it needs a Unix system (process
// groups, pipes read without blocking, a kill when sluice dies).
var Kind = invocation.Kind{
	Name: "process",
	Doc:  "Runs the operator's command over the AWS Lambda Runtime API (Unix systems only).",
	New: func(string, map[string]any, invocation.Env) (invocation.Invoker, any, error) {
		return nil, nil, errors.New("process functions need a Unix system (Linux, macOS, BSD)")
	},
}
