// Command lambdago is a function for the process kind's tests, written
// as any Go Lambda function is, with github.com/aws/aws-lambda-go: each
// event {"n": N, "do": WHAT} of a sluice invocation says what to do (see
// Invoke); "" or "ok" gives the event back, without "do", with "by",
// "function" and "config" added. With FIXTURE_MODE=firehose it is a Kinesis Data Firehose
// transformation written with aws-lambda-go's events package, as an
// existing one would be; with FIXTURE_MODE=identity, a typed handler that
// gives every event back (for the benchmarks).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Function string            `json:"function"`
	Config   map[string]any    `json:"config"`
	Events   []json.RawMessage `json:"events"`
}

type event struct {
	N  int    `json:"n"`
	Do string `json:"do"`
}

type handler struct{}

// Invoke answers raw bytes, so that it can also answer what no typed
// handler could (invalid JSON).
func (handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var req request
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, fmt.Errorf("not an invocation: %w", err)
	}
	lc, _ := lambdacontext.FromContext(ctx)
	deadline, _ := ctx.Deadline()
	results := []any{}
	for _, raw := range req.Events {
		var e event
		_ = json.Unmarshal(raw, &e)
		switch e.Do {
		case "", "ok": // the event, with what the function knows
			out := map[string]any{}
			_ = json.Unmarshal(raw, &out)
			delete(out, "do")
			out["by"], out["function"], out["config"] = "go", req.Function, req.Config
			results = append(results, map[string]any{"outputs": []any{out}})
		case "none":
			results = append(results, map[string]any{"outputs": []any{}})
		case "two":
			results = append(results, map[string]any{"outputs": []any{map[string]any{"n": e.N, "k": 0}, map[string]any{"n": e.N, "k": 1}}})
		case "fail":
			fmt.Fprintf(os.Stderr, "event %d is bad\n", e.N)
			results = append(results, map[string]any{"error": map[string]any{"type": "BadEvent", "message": fmt.Sprintf("event %d is bad", e.N), "stack": []string{"main.go:1", "main.go:2"}}})
		case "context":
			results = append(results, map[string]any{"outputs": []any{map[string]any{"n": e.N,
				"request_id": lc.AwsRequestID, "arn": lc.InvokedFunctionArn, "deadline_ms": deadline.UnixMilli(),
				"function_name": lambdacontext.FunctionName, "memory": lambdacontext.MemoryLimitInMB,
				"version": lambdacontext.FunctionVersion, "log_group": lambdacontext.LogGroupName, "log_stream": lambdacontext.LogStreamName,
				"trace": os.Getenv("_X_AMZN_TRACE_ID"), "env": envOf("SLUICE_FUNCTION", "SLUICE_INSTANCE", "LAMBDA_TASK_ROOT", "FIXTURE_TOKEN", "SECRET_OF_SLUICE", "HOME"),
				"cwd": cwd()}}})
		case "error":
			return nil, errors.New("the batch cannot be done")
		case "panic":
			fmt.Fprintln(os.Stderr, "about to panic")
			panic(fmt.Sprintf("event %d made me panic", e.N))
		case "exit":
			fmt.Fprintf(os.Stderr, "event %d: exiting with 3\n", e.N)
			os.Exit(3)
		case "hang":
			fmt.Fprintf(os.Stderr, "event %d: hanging\n", e.N)
			time.Sleep(time.Hour)
		case "count":
			continue // one result too few
		case "garbage":
			os.Stdout.Write([]byte("\x00\xff garbage {\"results\": [] not json\n"))
			os.Stdout.Write(bytes.Repeat([]byte("x"), 20000)) // a long line without an end
			os.Stdout.Write([]byte("\n"))
			results = append(results, map[string]any{"outputs": []any{map[string]any{"n": e.N, "by": "go"}}})
		case "flood": // more stderr than the node logs
			for i := range 10000 {
				fmt.Fprintf(os.Stderr, "flood line %d\n", i)
			}
			time.Sleep(200 * time.Millisecond)
			fmt.Fprintln(os.Stderr, "after the flood")
			results = append(results, map[string]any{"outputs": []any{map[string]any{"n": e.N}}})
		case "badjson":
			return []byte(`{"results": [oops`), nil
		default:
			return nil, fmt.Errorf("unknown do %q", e.Do)
		}
	}
	return json.Marshal(map[string]any{"results": results})
}

func envOf(names ...string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		out[n] = os.Getenv(n)
	}
	return out
}

func cwd() string { d, _ := os.Getwd(); return d }

// firehose is a Firehose transformation: upper-cases .title, drops events
// with .drop, fails those with .fail.
func firehose(ctx context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	var out events.KinesisFirehoseResponse
	for _, r := range ev.Records {
		var doc map[string]any
		_ = json.Unmarshal(r.Data, &doc)
		rec := events.KinesisFirehoseResponseRecord{RecordID: r.RecordID, Result: events.KinesisFirehoseTransformedStateOk}
		switch {
		case doc["drop"] == true:
			rec.Result = events.KinesisFirehoseTransformedStateDropped
		case doc["fail"] == true:
			rec.Result = events.KinesisFirehoseTransformedStateProcessingFailed
		default:
			if t, ok := doc["title"].(string); ok {
				doc["title"] = strings.ToUpper(t)
			}
			doc["arrival"] = r.ApproximateArrivalTimestamp.UnixMilli() > 0
			b, _ := json.Marshal(doc)
			rec.Data = append(b, '\n')
		}
		out.Records = append(out.Records, rec)
	}
	return out, nil
}

// identity gives every event back.
func identity(ctx context.Context, req request) (map[string][]map[string][]json.RawMessage, error) {
	results := make([]map[string][]json.RawMessage, len(req.Events))
	for i, e := range req.Events {
		results[i] = map[string][]json.RawMessage{"outputs": {e}}
	}
	return map[string][]map[string][]json.RawMessage{"results": results}, nil
}

func main() {
	if d, err := time.ParseDuration(os.Getenv("FIXTURE_START_DELAY")); err == nil {
		fmt.Fprintf(os.Stderr, "starting slowly (%s)\n", d)
		time.Sleep(d)
	}
	switch os.Getenv("FIXTURE_MODE") {
	case "init_error":
		fmt.Fprintln(os.Stderr, "cannot load the model")
		body := `{"errorMessage":"cannot load the model","errorType":"Runtime.ImportModuleError","stackTrace":["init.go:7"]}`
		resp, err := http.Post("http://"+os.Getenv("AWS_LAMBDA_RUNTIME_API")+"/2018-06-01/runtime/init/error", "application/json", strings.NewReader(body))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		os.Exit(1)
	case "exit_at_start":
		fmt.Fprintln(os.Stderr, "missing configuration")
		os.Exit(2)
	case "firehose":
		lambda.Start(firehose)
	case "identity": // for the benchmarks: a typed handler, as most are
		lambda.Start(identity)
	default:
		lambda.StartHandler(handler{})
	}
}
