package pipeline_test

import (
	"os"

	"github.com/sluice-dev/sluice/internal/event"
)

func writeFile(path, body string) error { return os.WriteFile(path, []byte(body), 0o644) }

func mustPos(t interface{ Fatal(...any) }, s string) event.Position {
	p, err := event.ParsePosition(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
