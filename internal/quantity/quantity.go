// Package quantity reads the sizes and durations of definitions and
// config files as people write them: "64MiB", "10GB" or a number of
// bytes; "168h", "90s".
package quantity

import (
	"fmt"
	"time"

	"github.com/dustin/go-humanize"
	"go.yaml.in/yaml/v3"
)

// Size is a byte count written as "10GiB", "64MB" or a plain number.
type Size int64

func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := humanize.ParseBytes(n.Value)
	if err != nil || v > 1<<62 {
		return fmt.Errorf("line %d: size %q: want a number of bytes such as 10GiB or 64MB", n.Line, n.Value)
	}
	*s = Size(v)
	return nil
}

// Duration is written as "168h", "90s".
type Duration time.Duration

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: duration %q: want a number and a unit such as 168h or 90s", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}
