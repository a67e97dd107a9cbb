package invocation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/invocation"
)

// fake answers invocations of payload sluice in the process: identity,
// except that a batch holding an event {"bad": CLASS} fails as a whole.
type fake struct {
	concurrency    int
	calls, running atomic.Int32
	peak           atomic.Int32
	mu             sync.Mutex
	sizes          []int
}

func (f *fake) Concurrency() int { return f.concurrency }
func (f *fake) State() any       { return nil }
func (f *fake) Close() error     { return nil }

func (f *fake) Invoke(ctx context.Context, body []byte) (invocation.Reply, error) {
	f.calls.Add(1)
	n := f.running.Add(1)
	defer f.running.Add(-1)
	for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
	}
	var req invocation.Request
	if err := json.Unmarshal(body, &req); err != nil {
		return invocation.Reply{}, err
	}
	f.mu.Lock()
	f.sizes = append(f.sizes, len(req.Events))
	f.mu.Unlock()
	var results []string
	for _, e := range req.Events {
		var ev struct{ Bad string }
		json.Unmarshal(e, &ev)
		switch ev.Bad {
		case "bisect":
			return invocation.Reply{}, &invocation.Failure{Class: invocation.Bisect, Type: "Boom", Message: "the batch blew up", Stack: []string{"a", "b"}, Stderr: "tail", Exit: "exit status 1"}
		case "batch":
			return invocation.Reply{}, &invocation.Failure{Class: invocation.Batch, Type: invocation.TypeHTTP, Message: "HTTP 401", Status: 401, Body: "no"}
		case "down":
			return invocation.Reply{}, invocation.Unavailablef("down")
		case "event":
			results = append(results, `{"error":{"type":"E","message":"this one"}}`)
			continue
		}
		results = append(results, `{"outputs":[`+string(e)+`]}`)
	}
	return invocation.Reply{Body: []byte(`{"results":[` + strings.Join(results, ",") + `]}`), Stderr: "stderr now"}, nil
}

func events(n int, bad map[int]string) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range out {
		out[i] = json.RawMessage(fmt.Sprintf(`{"i":%d,"bad":%q}`, i, bad[i]))
	}
	return out
}

func TestBisection(t *testing.T) {
	inv := &fake{concurrency: 3}
	f, err := invocation.New(inv, invocation.Options{Name: "f", MaxBatch: 16})
	if err != nil {
		t.Fatal(err)
	}
	in := events(40, map[int]string{5: "bisect", 21: "event", 37: "bisect"})
	res := f.Call(context.Background(), in)
	for i, r := range res {
		switch i {
		case 5, 37:
			var ce *function.CallError
			if !errors.As(r.Err, &ce) || ce.Type != "Boom" || ce.Stderr != "tail" || ce.Exit != "exit status 1" || len(ce.Stack) != 2 {
				t.Fatalf("event %d: %+v", i, r.Err)
			}
			// 16 -> 8 -> 4 -> 2 -> 1 (event 5), 8 -> 4 -> 2 -> 1 (event 37, in the last batch of 8)
			want := map[int]int{5: 5, 37: 4}[i]
			if ce.Attempts != want {
				t.Fatalf("event %d: %d attempts, want %d", i, ce.Attempts, want)
			}
		case 21:
			var ce *function.CallError
			if !errors.As(r.Err, &ce) || ce.Error() != "E: this one" || ce.Attempts != 1 || ce.Stderr != "stderr now" {
				t.Fatalf("event 21: %+v", r.Err)
			}
		default:
			if r.Err != nil || len(r.Outputs) != 1 || !bytes.Equal(r.Outputs[0], in[i]) {
				t.Fatalf("event %d: %+v", i, r)
			}
		}
	}
	// Batches of 16, 16, 8; the two bad ones split into 2 invocations per level.
	if got := inv.calls.Load(); got != 3+2*4+2*3 {
		t.Fatalf("%d invocations: %v", got, inv.sizes)
	}
	if p := inv.peak.Load(); p > 3 {
		t.Fatalf("%d invocations at once, concurrency 3", p)
	}
}

func TestFailureClasses(t *testing.T) {
	f, _ := invocation.New(&fake{concurrency: 1}, invocation.Options{Name: "f"})
	res := f.Call(context.Background(), events(4, map[int]string{2: "batch"}))
	for i, r := range res {
		var ce *function.CallError
		if !errors.As(r.Err, &ce) || ce.Status != 401 || ce.Body != "no" || ce.Attempts != 1 {
			t.Fatalf("event %d: the batch's error, not split: %+v", i, r.Err)
		}
	}
	res = f.Call(context.Background(), events(4, map[int]string{3: "down"}))
	if err := function.Unavailable(res); err == nil || !strings.Contains(err.Error(), "Sluice.Unavailable: down") {
		t.Fatalf("unavailable: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, r := range f.Call(ctx, events(3, nil)) {
		if !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("cancelled: %v", r.Err)
		}
	}
}

func TestOptions(t *testing.T) {
	for o, want := range map[*invocation.Options]string{
		{MaxBatch: 10001}: "max_batch: want 1 to 10000", {MaxBatch: -1}: "max_batch", {Payload: "xml"}: `payload: "xml": want sluice or firehose`,
	} {
		if _, err := invocation.New(&fake{concurrency: 1}, *o); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v", *o, err)
		}
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "x", "B": "y"}
	get := func(k string) string { return env[k] }
	if s, err := invocation.Expand("Bearer ${A}-${B} $A $ {C}", get); err != nil || s != "Bearer x-y $A $ {C}" {
		t.Fatalf("%q %v", s, err)
	}
	if _, err := invocation.Expand("${A}${NOPE}", get); err == nil || err.Error() != "${NOPE} is not set in sluice's environment" {
		t.Fatal(err)
	}
}
