// The handler the tests build and run under a Runtime API: per event, or
// batched when SLUICEFN_TEST_MODE=batch.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/sluice-dev/sluice/sdk/go/sluicefn"
)

type event struct {
	N     int    `json:"n"`
	Kind  string `json:"kind"`
	Sleep string `json:"sleep"`
}

type config struct {
	Tag string `json:"tag"`
}

type output struct {
	N        int    `json:"n"`
	Tag      string `json:"tag,omitempty"`
	Deadline bool   `json:"deadline,omitempty"`
}

func handle(ctx context.Context, e event, c config) ([]output, error) {
	switch e.Kind {
	case "fail":
		return nil, fmt.Errorf("event %d: %w", e.N, os.ErrNotExist)
	case "panic":
		var m map[string]int
		m["x"] = 1 // a nil map: panics
	case "none":
		return nil, nil
	case "two":
		return []output{{N: e.N}, {N: e.N + 1}}, nil
	case "log":
		log.Printf("a log line for event %d", e.N)
	case "sleep":
		d, _ := time.ParseDuration(e.Sleep)
		time.Sleep(d)
	}
	_, has := ctx.Deadline()
	return []output{{N: e.N, Tag: c.Tag, Deadline: has}}, nil
}

func batch(ctx context.Context, events []json.RawMessage, cfg json.RawMessage) ([]sluicefn.Result, error) {
	out := make([]sluicefn.Result, len(events))
	for i, raw := range events {
		var e event
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, err
		}
		switch e.Kind {
		case "fail-batch":
			return nil, errors.New("the API is down")
		case "short":
			return out[:i], nil
		case "crash":
			os.Exit(3)
		case "fail":
			out[i].Error = &sluicefn.Error{Type: "Bad", Message: fmt.Sprintf("event %d is bad", e.N)}
			continue
		}
		b, _ := json.Marshal(map[string]int{"n": e.N, "batch": len(events)})
		out[i].Outputs = []json.RawMessage{b}
	}
	return out, nil
}

func main() {
	if os.Getenv("SLUICEFN_TEST_MODE") == "batch" {
		sluicefn.StartBatch(batch)
	}
	sluicefn.Start(sluicefn.Typed(handle))
}
