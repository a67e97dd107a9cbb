//go:build unix

package process_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// runClient is a scripted Runtime API client, for what no real runtime
// client does: answers with a wrong id, a second /next, a huge answer, a
// streamed answer that fails in its trailers.
func runClient(script string) {
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	report := func(what string, resp *http.Response, err error) {
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(os.Stderr, "%s: %d %s\n", what, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	for {
		resp, err := http.Get(base + "next")
		if err != nil {
			os.Exit(1)
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		var req struct{ Events []json.RawMessage }
		_ = json.NewDecoder(resp.Body).Decode(&req)
		resp.Body.Close()
		results := make([]map[string]any, len(req.Events))
		for i, e := range req.Events {
			results[i] = map[string]any{"outputs": []json.RawMessage{e}}
		}
		answer, _ := json.Marshal(map[string]any{"results": results})
		switch script {
		case "wrong_id":
			resp, err := http.Post(base+"not-"+id+"/response", "application/json", bytes.NewReader(answer))
			report("wrong id", resp, err)
		case "next_twice":
			resp, err := http.Get(base + "next")
			report("next again", resp, err)
			continue
		case "too_large":
			resp, err := http.Post(base+id+"/response", "application/json", io.MultiReader(strings.NewReader(`{"results":["`),
				strings.NewReader(strings.Repeat("x", 33<<20)), strings.NewReader(`"]}`)))
			report("too large", resp, err)
			continue
		case "stream_error":
			req, _ := http.NewRequest("POST", base+id+"/response", nil)
			req.Header.Set("Lambda-Runtime-Function-Response-Mode", "streaming")
			req.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil}
			tr := &trailerSetter{r: req}
			req.Body, req.ContentLength = io.NopCloser(tr), -1
			resp, err := http.DefaultClient.Do(req)
			report("stream", resp, err)
			continue
		case "error_text":
			resp, err := http.Post(base+id+"/error", "text/plain", strings.NewReader("something broke, in plain text"))
			report("error", resp, err)
			continue
		}
		resp, err = http.Post(base+id+"/response", "application/json", bytes.NewReader(answer))
		report("answer", resp, err)
	}
}

// trailerSetter sets the error trailers when the body ends in an error,
// as aws-lambda-go's errorCapturingReader does.
type trailerSetter struct {
	r    *http.Request
	done bool
}

func (t *trailerSetter) Read(p []byte) (int, error) {
	if t.done {
		return 0, io.EOF
	}
	t.done = true
	n := copy(p, `{"results":`)
	t.r.Trailer.Set("Lambda-Runtime-Function-Error-Type", "Runtime.StreamError")
	t.r.Trailer.Set("Lambda-Runtime-Function-Error-Body", "eyJlcnJvck1lc3NhZ2UiOiJ0aGUgc3RyZWFtIGJyb2tlIiwiZXJyb3JUeXBlIjoiUnVudGltZS5TdHJlYW1FcnJvciJ9")
	return n, io.EOF
}
