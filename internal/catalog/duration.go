package catalog

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration written as text ("168h", "2m") in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	if d == 0 {
		return []byte(`"0s"`), nil
	}
	return json.Marshal(time.Duration(d).String())
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64 // nanoseconds, as Go writes a time.Duration
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration: want text such as \"168h\", got %s", b)
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want a number and a unit such as 168h or 90s", s)
	}
	*d = Duration(v)
	return nil
}
